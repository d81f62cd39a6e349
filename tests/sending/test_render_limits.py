"""Liquid runs within limits wherever a template renders: a runaway template is cut off
at once with a clear error, never minutes of CPU or a message of many megabytes."""

from __future__ import annotations

import time

import pytest

from envoi.deliveries.liquid import LimitedEnvironment, PersonalizationError
from envoi.deliveries.models import Delivery
from envoi.sending.render import DeliveryRenderer

# A renderer looks up its sender domain's DKIM keys (cached per process).
pytestmark = pytest.mark.django_db

DOUBLING = ('{% assign s = "0123456789" %}{% for i in (1..30) %}'
            "{% assign s = s | append: s %}{% endfor %}{{ s }} {{ unsubscribe_url }}")
BILLION = "{% for i in (1..1000000000) %}{{ i }}{% endfor %} {{ unsubscribe_url }}"


def renderer(text: str = "", html: str = "", subject: str = "s") -> DeliveryRenderer:
    return DeliveryRenderer(Delivery(pk=7, subject=subject, sender="a@example.com",
                                     text_body=text, html_body=html))


def render(template: DeliveryRenderer, profile: dict | None = None) -> float:
    """Seconds until the render was refused."""
    start = time.monotonic()
    with pytest.raises(PersonalizationError) as refused:
        template.render(1, "x@example.com", profile or {"email": "x@example.com"})
    render.error = refused.value  # type: ignore[attr-defined]
    return time.monotonic() - start


def test_append_doubling_in_a_loop_stops_at_the_variables_limit():
    assert render(renderer(text=DOUBLING)) < 1
    assert "local namespace limit reached" in str(render.error)  # type: ignore[attr-defined]


def test_a_loop_over_a_billion_stops_before_it_starts():
    assert render(renderer(html=BILLION)) < 0.5
    assert str(render.error) == (  # type: ignore[attr-defined]
        "html_body, line 1, column 4: loop iteration limit reached")


def test_a_loop_within_the_iteration_limit_still_stops_at_the_time_limit(monkeypatch):
    monkeypatch.setattr(LimitedEnvironment, "loop_iteration_limit", None)
    monkeypatch.setattr(LimitedEnvironment, "render_seconds", 0.2)
    slow = "{% for i in (1..100000000) %}{% assign x = i | times: 2 %}{% endfor %}"
    assert 0.2 <= render(renderer(text=slow + "{{ unsubscribe_url }}")) < 1
    assert str(render.error) == "render time limit reached"  # type: ignore[attr-defined]


def test_output_past_the_limit_stops_the_render():
    big = "{% for i in (1..9000) %}{{ attributes.block }}{% endfor %}"
    profile = {"email": "x@example.com", "attributes": {"block": "x" * 1000}}
    assert render(renderer(text=big), profile) < 1
    assert "output limit reached" in str(render.error)  # type: ignore[attr-defined]


def test_the_size_rule_measures_the_rendered_message():
    # 2,000 × 1,000 Korean characters: within the output limit (characters), but 6 MB
    # of text, base64-encoded (its line is over 998 octets) to 8 MB.
    wide = "{% for i in (1..2000) %}{{ attributes.block }}{% endfor %}"
    profile = {"email": "x@example.com", "attributes": {"block": "가" * 1000}}
    render(renderer(text=wide), profile)
    error = render.error  # type: ignore[attr-defined]
    assert error.reason == "message_too_large"
    assert str(error) == "the rendered message is 8018 KB; the limit is 5120 KB"


def test_a_normal_template_renders_as_before():
    message = renderer(text="Hi {{ first_name | upcase }} {% for i in (1..3) %}{{ i }}"
                            "{% endfor %}").render(1, "x@example.com",
                                                   {"email": "x@example.com",
                                                    "first_name": "kim"})
    assert b"Hi KIM 123" in message.data_8bit


def test_an_error_names_its_field_line_and_column():
    template = renderer(subject="Hello", text="one\ntwo {{ 1 | divided_by: attributes.n }}")
    render(template)
    assert str(render.error) == (  # type: ignore[attr-defined]
        "text_body, line 2, column 12: divided_by: can't divide by 0")


def test_a_number_squared_in_a_loop_stops_before_its_multiplications_take_seconds():
    squaring = ("{% assign n = 7 %}{% for i in (1..40) %}{% assign n = n | times: n %}"
                "{% endfor %}")
    assert render(renderer(text=squaring)) < 0.5
    assert str(render.error) == (  # type: ignore[attr-defined]
        "text_body, line 1, column 59: times: the result is too large")
