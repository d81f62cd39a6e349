"""The benchmark's message: a realistic Korean spring-sale newsletter.

A ~20 KB UTF-8 HTML body with inline styles and exactly 45 shop links (plus the
unsubscribe link), a ~3 KB text body, and a personalized Korean subject.
"""

from __future__ import annotations

SUBJECT = "{{ first_name }}님, 봄맞이 회원 전용 특별 할인 쿠폰이 도착했어요!"
SENDER = "봄맞이 쇼핑 <news@shop.example.com>"
HTML_BYTES = 20 * 1024
TEXT_BYTES = 3 * 1024
SHOP_LINKS = 45

_PRODUCTS = ["린넨 셔츠", "플로럴 원피스", "가벼운 트렌치코트", "데님 재킷", "캔버스 스니커즈",
             "라탄 바구니 백", "실크 스카프", "니트 가디건", "와이드 슬랙스", "코튼 티셔츠"]

_HEAD = """<!DOCTYPE html>
<html lang="ko"><head><meta charset="utf-8"><title>봄맞이 특별 할인</title></head>
<body style="margin:0;padding:0;background-color:#f4f1ec;font-family:'Apple SD Gothic Neo',\
'Malgun Gothic',sans-serif;">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" \
style="background-color:#f4f1ec;">
<tr><td align="center" style="padding:24px 12px;">
<table role="presentation" width="600" cellpadding="0" cellspacing="0" \
style="background-color:#ffffff;border-radius:8px;">
<tr><td style="padding:32px 32px 8px 32px;font-size:22px;line-height:32px;color:#2b2b2b;\
font-weight:bold;">{{ first_name }}님, 봄이 왔어요!</td></tr>
<tr><td style="padding:0 32px 24px 32px;font-size:15px;line-height:24px;color:#555555;">\
회원님만을 위한 봄맞이 특별 할인 쿠폰을 준비했어요. 이번 주 일요일까지 전 상품 최대 40% \
할인과 무료 배송 혜택을 놓치지 마세요.</td></tr>
"""

_PRODUCT = """<td width="33%" valign="top" style="padding:8px;font-size:13px;color:#333;">\
<a href="https://shop.example.com/p/{n}?c=spring" style="color:#222;text-decoration:none;">\
<img src="https://img.shop.example.com/{n}.jpg" width="160" alt="" style="display:block;\
border:0;"><b>{name}</b></a><br><span style="color:#d9534f;">{price:,}원</span></td>
"""

_FOOTER = """<tr><td style="padding:24px 32px;font-size:12px;line-height:18px;color:#888888;\
background-color:#fafafa;border-radius:0 0 8px 8px;">본 메일은 수신에 동의하신 회원님께 \
발송되었습니다. 더 이상 받지 않으시려면 <a href="{{ unsubscribe_url }}" \
style="color:#888888;text-decoration:underline;">수신 거부</a>를 눌러 주세요.<br>\
(주)봄맞이쇼핑 · 서울특별시 중구 세종대로 110 · 고객센터 1588-0000</td></tr>
</table></td></tr></table>
"""

_TAIL = "</body></html>\n"

_FILLER = ("<!-- 봄맞이 회원 전용 이벤트: 쿠폰은 로그인 후 마이페이지에서 확인하실 수 있어요. "
           "일부 품목은 할인에서 제외될 수 있습니다. -->\n")


def html_body() -> str:
    """Exactly ``SHOP_LINKS`` shop links, padded with comments to ~``HTML_BYTES``."""
    parts = [_HEAD]
    for n in range(SHOP_LINKS):
        if n % 3 == 0:
            parts.append('<tr><td style="padding:0 24px;"><table role="presentation" '
                         'width="100%" cellpadding="0" cellspacing="0"><tr>\n')
        name = _PRODUCTS[n % len(_PRODUCTS)]
        parts.append(_PRODUCT.format(n=1000 + n, name=name, price=19_900 + 1_000 * n))
        if n % 3 == 2:
            parts.append("</tr></table></td></tr>\n")
    parts.append(_FOOTER)
    body = "".join(parts)
    if len(body.encode()) > HTML_BYTES:  # the 45 links alone must fit the budget
        raise AssertionError(f"html body already {len(body.encode())} bytes")
    while len((body + _FILLER + _TAIL).encode()) <= HTML_BYTES:
        body += _FILLER
    return body + _TAIL


_TEXT_LINE = ("- {name}: 회원가 {price:,}원 (정가 {old:,}원) "
              "https://shop.example.com/p/{n}\n")


def text_body() -> str:
    lines = ["{{ first_name }}님, 봄이 왔어요!\n\n",
             "회원님만을 위한 봄맞이 특별 할인 쿠폰을 준비했어요. 이번 주 일요일까지 "
             "전 상품 최대 40% 할인과 무료 배송 혜택을 놓치지 마세요.\n\n"]
    tail = "\n수신 거부: {{ unsubscribe_url }}\n(주)봄맞이쇼핑 · 서울특별시 중구 세종대로 110\n"
    n = 0
    while True:
        name = _PRODUCTS[n % len(_PRODUCTS)]
        price = 19_900 + 1_000 * n
        line = _TEXT_LINE.format(n=1000 + n, name=name, price=price, old=price * 5 // 3)
        if len("".join([*lines, line, tail]).encode()) > TEXT_BYTES:
            break
        lines.append(line)
        n += 1
    return "".join(lines) + tail


# The same newsletter written in MJML, with a Korean and a Japanese variant besides the
# default (bench/send.py --content mjml-variants): compiled once at save, so the
# per-recipient path is the HTML one's.

_MJML_PRODUCT = """<mj-column><mj-image src="https://img.shop.example.com/{n}.jpg" width="160px"
 href="https://shop.example.com/{lang}/p/{n}?c=spring" /><mj-text font-size="13px">
<a href="https://shop.example.com/{lang}/p/{n}?c=spring"><b>{name}</b></a><br>
<span style="color:#d9534f;">{price:,}</span></mj-text></mj-column>
"""

_GREETINGS = {"en": ("Spring is here, {{ first_name }}!", "Unsubscribe"),
              "ko": ("{{ first_name }}님, 봄이 왔어요!", "수신 거부"),
              "ja": ("{{ first_name }}様、春が来ました！", "配信停止")}
SUBJECTS = {"en": "{{ first_name }}, your spring member coupon is here",
            "ko": SUBJECT, "ja": "{{ first_name }}様、春の会員限定クーポンが届きました"}


def mjml_body(lang: str) -> str:
    """``SHOP_LINKS`` products (each linked twice: image and name) in MJML sections."""
    greeting, unsubscribe = _GREETINGS[lang]
    sections = []
    for start in range(0, SHOP_LINKS, 3):
        columns = "".join(
            _MJML_PRODUCT.format(n=1000 + n, lang=lang, name=_PRODUCTS[n % len(_PRODUCTS)],
                                 price=19_900 + 1_000 * n)
            for n in range(start, min(start + 3, SHOP_LINKS)))
        sections.append(f"<mj-section>{columns}</mj-section>\n")
    return ("<mjml><mj-head><mj-title>Spring</mj-title></mj-head><mj-body>\n"
            f"<mj-section><mj-column><mj-text font-size=\"22px\">{greeting}</mj-text>"
            "</mj-column></mj-section>\n" + "".join(sections) +
            "<mj-section><mj-column><mj-text font-size=\"12px\">"
            f"<a href=\"{{{{ unsubscribe_url }}}}\">{unsubscribe}</a></mj-text>"
            "</mj-column></mj-section></mj-body></mjml>\n")


def variants() -> list[dict]:
    return [{"language": lang, "subject": SUBJECTS[lang], "mjml_body": mjml_body(lang)}
            for lang in ("ko", "ja")]
