"""Subject, text and HTML rendered in one Liquid pass give what three renders give, and
the 8bit and 7-bit forms of a rendered message carry the same content."""

from __future__ import annotations

import pytest

from envoi.deliveries.content import environment
from envoi.sending.render import DeliveryRenderer, PlainTemplate
from tests.support.deliveries import delivery_in
from tests.support.scenario import parse

pytestmark = pytest.mark.django_db

PROFILE = {"first_name": "민준", "last_name": "김", "email": "kim@example.kr",
           "attributes": {"tier": "gold"}}
HTML = ('<html><body><p>{{ first_name }}님 {{ attributes.tier | upcase }}</p>'
        '<a href="https://shop.example.com/p/1">보기</a>'
        '<a href="{{ unsubscribe_url }}">수신 거부</a></body></html>\n')


Parts = tuple[str, str, str]


def both_ways(**content: str) -> tuple[DeliveryRenderer, Parts, Parts]:
    """The renderer, and the parts it renders in one pass and in three."""
    renderer = DeliveryRenderer(delivery_in("editing", **content))
    separate = DeliveryRenderer(delivery_in("editing", **content))
    separate.combined = None
    context, slots = renderer.context(7, PROFILE)
    return renderer, renderer.parts(context, slots), separate.parts(context, slots)


@pytest.mark.parametrize("subject, text", [
    ("{{ first_name }}님, 봄 소식", "{{ first_name }} {{ last_name }}\n{{ mirror_url }}\n"),
    ("Hi {{ first_name -}}", "{{- last_name }} and  spaces  \n"),  # whitespace control
    ("no personalization", ""),
])
def test_one_pass_renders_what_three_renders_do(subject, text):
    renderer, combined, separate = both_ways(subject=subject, text_body=text, html_body=HTML)
    assert renderer.combined is not None
    assert combined == separate
    assert "민준님 GOLD" in combined[2] and "/c/" in combined[2]


def test_tags_in_the_subject_keep_separate_renders():
    renderer, combined, separate = both_ways(
        subject='{% assign first_name = "Boss" %}Hi {{ first_name }}',
        text_body="{{ first_name }}\n", html_body=HTML)
    assert renderer.combined is None
    assert combined == separate
    assert combined[0] == "Hi Boss"
    assert combined[1] == "민준\n" and "민준님" in combined[2]  # the assign stays in the subject


def test_8bit_and_7bit_forms_carry_the_same_message():
    renderer = DeliveryRenderer(delivery_in("editing", html_body=HTML))
    message = renderer.render(7, "kim@example.kr", PROFILE)
    eight, seven = parse(message.data_8bit), parse(message.data)

    assert message.data.isascii() and not message.data_8bit.isascii()
    assert [p["Content-Transfer-Encoding"] for p in seven.iter_parts()] == ["base64"] * 2
    assert [p["Content-Transfer-Encoding"] for p in eight.iter_parts()] == ["8bit"] * 2
    for header in ("Subject", "To", "From", "Message-ID", "List-Unsubscribe"):
        assert eight[header] == seven[header]
    for kind in ("plain", "html"):
        assert (eight.get_body((kind,)).get_content()
                == seven.get_body((kind,)).get_content().replace("\n", "\r\n"))


PLAIN_HTML = ('<html><body><p>{{ first_name }}님 {{- last_name }}</p>'
              '<a href="https://shop.example.com/p/1">보기</a>'
              '<a href="{{ unsubscribe_url }}">수신 거부</a>{{ mirror_url }}</body></html>\n')


@pytest.mark.parametrize("subject, text", [
    ("{{ first_name }}님, 봄 소식", "{{ first_name }} {{ last_name }}\n{{ mirror_url }}\n"),
    ("Hi {{ first_name -}}", "{{- last_name }} and  spaces  \n"),
    ("no personalization", ""),
])
def test_text_and_bare_outputs_are_joined_into_what_liquid_renders(subject, text):
    renderer, combined, separate = both_ways(subject=subject, text_body=text,
                                             html_body=PLAIN_HTML)
    assert renderer.plain is not None
    assert combined == separate
    assert "민준님김" in combined[2] and "/c/" in combined[2]


@pytest.mark.parametrize("source", [
    "{{ first_name | upcase }}", "{{ attributes.tier }}", "{% if x %}y{% endif %}",
    "{{ 'literal' }}", "{{ items[0] }}",
])
def test_anything_but_bare_outputs_is_left_to_liquid(source):
    assert PlainTemplate.of(environment.from_string(source)) is None


def test_a_value_that_is_not_a_string_is_left_to_liquid():
    plain = PlainTemplate.of(environment.from_string("{{ first_name }}: {{ points }}"))
    assert plain is not None
    assert plain.render({"first_name": "A", "points": "12"}) == "A: 12"
    assert plain.render({"first_name": "A", "points": 12}) is None
    assert plain.render({"first_name": "A"}) is None  # unknown: Liquid decides
