"""Part layouts: a body assembled from fixed text and gap values is the text the gaps
make, and its unencoded form is exactly what the whole check (eight_bit_body) gives,
whatever the values hold."""

from __future__ import annotations

import random

import pytest

from envoi.sending.layout import PartLayout
from envoi.sending.mime import MAX_8BIT_LINE, eight_bit_body
from envoi.sending.render import DeliveryRenderer
from tests.support.deliveries import delivery_in

FIXED_CASES = {
    "html": ['<p>', '님 안녕하세요</p>\n<a href="', '">보기</a>\n', "\n"],
    "gap starts the line": ["", " 님, 봄이 왔어요\n", "", "\n끝\n"],
    "gap after a short head": ["a\nFr", "x\n.", "\n"],
    "crlf": ["첫 줄\r\n", "\r\n둘째 줄", ""],
    "long line": ["x" * 900, "y" * 50, ""],
    "fixed text is a problem": ["\n.dot\n", ""],
    "no gaps": ["just text\n"],
}
VALUES = ["", "민준", "https://t.example/c/7.1.5000.0.0123456789abcdef0123", ".", "From ",
          "om me", "a\nb", "\n.", "\nFrom x", "x\r", "\r\n", "nul\0", "z" * 120, "ok"]


def layout_cases():
    picks = random.Random(7)
    for name, fixed in FIXED_CASES.items():
        for _ in range(60):
            yield name, fixed, [picks.choice(VALUES) for _ in range(len(fixed) - 1)]


@pytest.mark.parametrize("name, fixed, values", list(layout_cases()))
def test_the_layout_gives_what_the_whole_check_gives(name, fixed, values):
    part = PartLayout.of(fixed).assemble(values)
    text = "".join(piece for pair in zip(fixed, [*values, ""], strict=True) for piece in pair)
    assert part.text == text
    assert part.unencoded == eight_bit_body(text)


def test_plain_html_fixed_text_is_measured_once():
    layout = PartLayout.of(FIXED_CASES["html"])
    assert layout.fixed_8bit == (b"<p>", "님 안녕하세요</p>\r\n<a href=\"".encode(),
                                 "\">보기</a>\r\n".encode(), b"\r\n")
    # Only the third gap, alone on its line, may start one with "." or "From ".
    assert [start.first_gap for start in layout.line_starts] == [2]
    part = layout.assemble(["민준", "https://t.example/c/1", "x"])
    assert part.unencoded == eight_bit_body(part.text) is not None


def test_values_that_fill_a_line_past_998_octets_are_caught():
    layout = PartLayout.of(["<p>", "</p>", "\n"])
    longest = layout.longest_value
    assert longest == (MAX_8BIT_LINE - len("<p></p>")) // 2
    assert layout.assemble(["가" * (longest // 3), "a"]).unencoded is not None
    assert layout.assemble(["a" * longest, "b" * longest]).unencoded is not None
    # Past the bound, the whole check decides: 998 octets exactly still fit.
    assert layout.assemble(["a" * (longest + 1), "b" * longest]).unencoded is not None
    assert layout.assemble(["a" * (longest + 1), "b" * (longest + 1)]).unencoded is None


def test_a_gap_that_may_start_a_line_is_checked_per_message():
    layout = PartLayout.of(["a\nFr", "x\n"])
    assert len(layout.line_starts) == 1
    assert layout.assemble(["om "]).unencoded is None  # "From x"
    assert layout.assemble(["ie"]).unencoded == b"a\r\nFriex\r\n"


HTML = ('<html><body><p>{{ first_name }}님</p>\n'
        '<a href="https://shop.example.com/p/1">보기</a>\n'
        '<a href="{{ unsubscribe_url }}">수신 거부</a>\n</body></html>\n')


@pytest.mark.django_db
@pytest.mark.parametrize("first_name", ["민준", ".점", "From me", "줄\n바꿈", "x" * 2000, ""])
def test_a_rendered_message_is_the_same_through_layouts_and_renders(first_name):
    content = {"subject": "{{ first_name }}님, 봄 소식", "html_body": HTML,
               "text_body": "{{ first_name }}\n{{ mirror_url }}\n"}
    renderer = DeliveryRenderer(delivery_in("editing", **content))
    assert renderer.layouts is not None
    profile = {"first_name": first_name, "last_name": "김", "email": "kim@example.kr"}
    context, slots = renderer.context(7, profile)
    subject, text, html = renderer.message_parts(context, slots)
    assert (subject, text.text, html.text) == renderer.parts(context, slots)
    assert text.unencoded == eight_bit_body(text.text)
    assert html.unencoded == eight_bit_body(html.text)


@pytest.mark.django_db
def test_a_value_that_is_not_a_string_takes_the_liquid_render():
    renderer = DeliveryRenderer(delivery_in("editing", html_body=HTML, text_body="hi\n"))
    context, slots = renderer.context(7, {"first_name": None, "email": "kim@example.kr"})
    context["first_name"] = 42
    subject, text, html = renderer.message_parts(context, slots)
    assert isinstance(html, str) and "<p>42님</p>" in html
