"""``bulk_sender``: what Gmail, Yahoo and Naver ask of bulk senders.

A From domain that is a checked sending domain, DKIM-signed and DMARC-aligned (its DNS
checks are yellow for everyone else and red here), and no From address at a mailbox
provider's domain, whose DMARC policy rejects mail sent from elsewhere in its name.
One-click unsubscription headers (List-Unsubscribe and List-Unsubscribe-Post, RFC 8058)
need no check of the content: the renderer writes both on every delivery message
(:mod:`envoi.sending.render`).
"""

from __future__ import annotations

from collections.abc import Iterator

from django.utils import translation
from django.utils.translation import gettext as _

from envoi.deliveries.models import Delivery
from envoi.preparation.control import ERROR, Finding
from envoi.sending.email.domains import from_domain_problems
from envoi.sending.mime import HeaderValueError, parse_mailbox

MAILBOX_PROVIDERS = frozenset({"gmail.com", "yahoo.com", "naver.com"})


def findings(delivery: Delivery) -> Iterator[Finding]:
    if delivery.channel != Delivery.EMAIL:
        return
    try:
        _name, address = parse_mailbox(delivery.sender, "sender")
    except HeaderValueError:
        return  # said by the control rules
    domain = address.rpartition("@")[2].lower()
    if domain in MAILBOX_PROVIDERS:
        yield Finding(ERROR, "bulk_sender.free_mail",
                      _("Bulk sender: the From address may not be at %(domain)s; send "
                        "from your own domain.") % {"domain": domain}, "sender")
        return
    failed = from_domain_problems(domain)
    if failed is None:
        yield Finding(ERROR, "bulk_sender.unknown_domain",
                      _("Bulk sender: %(domain)s is not a sending domain; add it so that "
                        "its mail is DKIM-signed and DMARC-aligned.") % {"domain": domain},
                      "sender")
    elif failed:
        with translation.override("en"):
            problems = " ".join(check.message for check in failed)
        yield Finding(ERROR, "bulk_sender.domain_checks",
                      _("Bulk sender: the DNS checks of %(domain)s fail: %(problems)s")
                      % {"domain": domain, "problems": problems}, "sender")
