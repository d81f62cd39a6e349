"""Shared content for the authoring tests: an MJML email and its Korean and Japanese
variants, and the profiles that receive each."""

from __future__ import annotations

from email.message import EmailMessage

from envoi.audiences.models import Profile

MJML = """<mjml>
  <mj-head><mj-title>Spring</mj-title></mj-head>
  <mj-body>
    <mj-section>
      <mj-column>
        <mj-text>{GREETING} {{{{ first_name | default: "friend" }}}}</mj-text>
        <mj-button href="https://shop.example.com/{LANG}/spring?who={{{{ email }}}}">
          {BUTTON}
        </mj-button>
        <mj-text><a href="{{{{ unsubscribe_url }}}}">{UNSUBSCRIBE}</a></mj-text>
      </mj-column>
    </mj-section>
  </mj-body>
</mjml>
"""


def mjml(greeting: str, button: str, unsubscribe: str, lang: str) -> str:
    return MJML.format(GREETING=greeting, BUTTON=button, UNSUBSCRIBE=unsubscribe, LANG=lang)


DEFAULT_MJML = mjml("Hello", "Shop now", "Unsubscribe", "en")
KO_MJML = mjml("안녕하세요", "지금 쇼핑하기", "수신 거부", "ko")
JA_MJML = mjml("こんにちは", "今すぐ購入", "配信停止", "ja")

VARIANTS = [
    {"language": "ko", "subject": "{{ first_name }}님, 봄 세일", "preheader": "봄 한정",
     "mjml_body": KO_MJML},
    {"language": "ja", "subject": "{{ first_name }}様、春のセール", "preheader": "春限定",
     "mjml_body": JA_MJML},
]

# address -> (language, the variant expected)
PEOPLE = {
    "minji@example.com": ("ko", "ko"),
    "seoyeon@example.com": ("ko-KR", "ko"),
    "haruto@example.jp": ("ja", "ja"),
    "ada@example.org": ("en", ""),
    "bob@example.net": ("", ""),
    "pierre@example.fr": ("fr", ""),
}
SUBJECT_START = {"ko": "{name}님, 봄 세일", "ja": "{name}様、春のセール", "": "Spring for {name}"}


def make_people() -> None:
    Profile.objects.bulk_create(
        Profile(email=address, first_name=address.split("@")[0].title(), language=language)
        for address, (language, _) in PEOPLE.items())


def delivery_fields(audience_id: int, **overrides) -> dict:
    fields = {"label": "Spring", "sender": "Shop <news@shop.example.com>",
              "subject": "Spring for {{ first_name }}", "preheader": "This season only",
              "content_mode": "mjml", "mjml_body": DEFAULT_MJML, "variants": VARIANTS,
              "audience_id": audience_id}
    fields.update(overrides)
    return fields


def html_of(message: EmailMessage) -> str:
    part = message.get_body(("html",))
    assert part is not None
    return part.get_content()


def text_of(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return part.get_content()
