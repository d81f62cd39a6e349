"""One-click fixes for market-rule findings, where the fix cannot change the meaning of
the message: insert the "(광고)" prefix, add the standard footer from the brand
(:func:`envoi.consent.brand.brand`, the one the rules check against) to the HTML part,
the text part, or a Korean advertising SMS's text.
Both go through :func:`envoi.deliveries.services.update`, with its permission and audit.
"""

from __future__ import annotations

from html import escape

from django.conf import settings
from django.utils.translation import gettext as _

from envoi.accounts.services import Actor
from envoi.consent.brand import brand
from envoi.deliveries.models import Delivery
from envoi.deliveries.services import DeliveryError
from envoi.preparation.rules.kr_advertising import PREFIX

# Which fix answers which finding.
FIX_OF_FINDING = {
    "kr_advertising.prefix": "prefix",
    "kr_advertising.sender": "footer",
    "kr_advertising.opt_out": "footer",
    "jp_advertising.footer": "footer",
}


def fixes_for(codes: set[str]) -> list[str]:
    """The fixes the findings' codes call for, each once, the prefix first."""
    wanted = {FIX_OF_FINDING[code] for code in codes if code in FIX_OF_FINDING}
    return [fix for fix in ("prefix", "footer") if fix in wanted]


def apply_fix(user: Actor, delivery: Delivery, fix: str) -> Delivery:
    from envoi.deliveries import services

    if fix == "prefix":
        field = "text_body" if delivery.channel == Delivery.SMS else "subject"
        value = getattr(delivery, field)
        if value.startswith(PREFIX):
            return delivery
        return services.update(user, delivery, **{field: f"{PREFIX} {value.lstrip()}"})
    if fix == "footer":
        return services.update(user, delivery, **footer_changes(delivery))
    raise DeliveryError(_("%(fix)s is not a fix.") % {"fix": fix})


def footer_changes(delivery: Delivery) -> dict[str, str]:
    """The footer added to each part the message has: the HTML part, the text part
    (a text-only email gets no HTML part of its own), or a Korean SMS's text."""
    if delivery.channel == Delivery.SMS:
        return {"text_body": delivery.text_body.rstrip() + "\n" + footer_sms(delivery)}
    if delivery.content_mode != "html":
        raise DeliveryError(_("The footer can be added only to HTML content; add it "
                              "in the editor."))
    changes = {}
    if delivery.html_body.strip():
        changes["html_body"] = delivery.html_body.rstrip() + "\n" + footer_html(delivery)
    if delivery.text_body.strip() or not changes:
        text = delivery.text_body.rstrip()
        changes["text_body"] = (text + "\n\n" if text else "") + footer_text(delivery)
    return changes


def _lines(delivery: Delivery) -> list[str]:
    """The footer's lines: the brand's, then what each rule set asks for."""
    sender = brand()
    name, address, contact = sender.name.strip(), sender.address, sender.contact
    typology = delivery.typology or []
    lines = list(sender.footer_lines)
    # A part the brand leaves empty is left out, not printed blank: the rule then
    # still names what is missing and where to set it.
    if "jp_advertising" in typology:
        lines += [f"{name} {address}".strip(), *([f"お問い合わせ: {contact}"] if contact else []),
                  "今後のメール配信を希望されない方は、下記より配信停止の手続きができます。"]
    if "kr_advertising" in typology:
        lines += [" | ".join(part for part in (name, address, contact) if part),
                  "본 메일은 광고성 정보입니다. 더 이상 받지 않으려면 수신거부를 누르세요."]
    return lines


def footer_html(delivery: Delivery) -> str:
    typology = delivery.typology or []
    link_text = ("配信停止" if "jp_advertising" in typology and "kr_advertising"
                 not in typology else "수신거부 / 配信停止" if "jp_advertising" in typology
                 else "수신거부")
    paragraphs = "".join(f"<p>{escape(line)}</p>" for line in _lines(delivery))
    return (f'<footer class="envoi-footer">{paragraphs}'
            f'<p><a href="{{{{ unsubscribe_url }}}}">{link_text}</a></p></footer>')


def footer_text(delivery: Delivery) -> str:
    return "\n".join([*_lines(delivery), "{{ unsubscribe_url }}"])


def footer_sms(delivery: Delivery) -> str:
    """A Korean advertising SMS's sender line and its free refusal number (the number
    must be set: without it there is nothing lawful to add)."""
    number = settings.ENVOI_KR_OPT_OUT_NUMBER.strip()
    if "kr_advertising" not in (delivery.typology or []) or not number.startswith("080"):
        raise DeliveryError(_("The footer of an SMS needs Korean advertising and a free "
                              "080 number in ENVOI_KR_OPT_OUT_NUMBER; add it by hand."))
    current = brand()
    sender = " ".join(part for part in (current.name.strip(), current.contact) if part)
    return f"{sender}\n무료수신거부 {number}".strip()
