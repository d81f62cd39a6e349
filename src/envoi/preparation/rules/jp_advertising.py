"""``jp_advertising``: Japanese advertising email (特定電子メール法).

The body shows the sender's name and postal address, an opt-out link, a statement that
the recipient can refuse further mail (配信停止 / 受信拒否), and a contact for enquiries.
Name, address and contact are the brand's (:func:`envoi.consent.brand.brand`: the
console's Administration → Brand over the ``ENVOI_BRAND_*`` defaults).
Every targeted profile must have a consent record: profiles without one are counted in a
red finding rather than silently excluded, so the sender sees the gap in its list.
"""

from __future__ import annotations

from collections.abc import Iterator

from django.db import connection
from django.utils.translation import gettext as _

from envoi.consent.brand import brand
from envoi.deliveries.models import Delivery
from envoi.preparation.control import ERROR, Finding
from envoi.preparation.rules import body_text, uses

REFUSAL_WORDS = ("配信停止", "受信拒否", "配信を希望されない", "配信解除")


def findings(delivery: Delivery) -> Iterator[Finding]:
    body, sender = body_text(delivery), brand()
    field = "html_body" if delivery.html_body.strip() else "text_body"
    missing = [label for label, value in (
        (_("the sender's name (Administration → Brand, or ENVOI_BRAND_NAME)"),
         sender.name),
        (_("the sender's postal address (Administration → Brand, or "
           "ENVOI_BRAND_ADDRESS)"), sender.address),
        (_("a contact for enquiries (Administration → Brand, or ENVOI_BRAND_CONTACT)"),
         sender.contact),
    ) if not value.strip() or value.strip() not in body]
    if not uses(delivery, "unsubscribe_url"):
        missing.append(_("an opt-out link ({{ unsubscribe_url }})"))
    if not any(word in body for word in REFUSAL_WORDS):
        missing.append(_("a statement that the recipient can refuse further mail "
                         "(配信停止)"))
    if missing:
        yield Finding(ERROR, "jp_advertising.footer",
                      _("Japanese advertising: the message must carry %(missing)s.")
                      % {"missing": "; ".join(missing)}, field)
    yield from consent_records(delivery)


def consent_records(delivery: Delivery) -> Iterator[Finding]:
    """Targeted profiles without any consent record on the channel (red, with counts)."""
    from envoi.audiences.filters import FilterError
    from envoi.consent.models import Consent
    from envoi.preparation.targeting import audience_condition

    if delivery.audience is None:
        return
    try:
        condition, params = audience_condition(delivery.audience)
    except FilterError:
        return  # the audience rule reports it
    consent_table = Consent._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT COUNT(*), COUNT(*) FILTER (WHERE NOT EXISTS ("  # noqa: S608
            f"SELECT 1 FROM {consent_table} c WHERE c.profile_id = p.id "
            f"AND c.channel = %s AND c.purpose = 'marketing')) "
            f"FROM audiences_profile p WHERE ({condition})",
            [delivery.channel, *params])
        total, lacking = cursor.fetchone()
    if lacking:
        yield Finding(ERROR, "jp_advertising.consent",
                      _("Japanese advertising: %(lacking)d of %(total)d targeted profiles "
                        "have no consent record; record their consent or leave them out "
                        "of the audience.") % {"lacking": lacking, "total": total},
                      "audience")
