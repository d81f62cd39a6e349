"""MJML compiled once at save (and at preparation), Liquid intact, errors with line and
column on their field; a text part generated when none is written."""

from __future__ import annotations

import pytest

from envoi.content.authoring import compile_fields, with_preheader
from envoi.content.mjml import compile_mjml
from envoi.content.text import html_to_text
from envoi.deliveries.content import environment
from tests.content.support import DEFAULT_MJML, delivery_fields
from tests.support.api import Api

pytestmark = pytest.mark.django_db


def test_liquid_survives_compilation_in_text_and_in_attributes():
    result = compile_mjml(DEFAULT_MJML)
    assert result.problems == ()
    assert 'Hello {{ first_name | default: "friend" }}' in result.html
    assert 'href="https://shop.example.com/en/spring?who={{ email }}"' in result.html
    assert 'href="{{ unsubscribe_url }}"' in result.html
    rendered = environment.from_string(result.html).render(
        first_name="Ada", email="ada@example.org", unsubscribe_url="U")
    assert "Hello Ada" in rendered and "who=ada@example.org" in rendered


@pytest.mark.parametrize("source,message,line,column", [
    ("<mjml><mj-body>\n  <mj-sectoin></mj-sectoin></mj-body></mjml>",
     "unknown MJML element <mj-sectoin>", 2, 3),
    ("<mjml><mj-body><mj-section><mj-column>\n<mj-text>x</mj-txt>\n"
     "</mj-column></mj-section></mj-body></mjml>", "</mj-txt> closes no open element", 2, 11),
    ("<mjml><mj-body>\n<mj-section><mj-column>\n  <mj-text>never closed\n"
     "</mj-column></mj-section></mj-body></mjml>",
     "<mj-text> is not closed before </mj-column>", 3, 3),
    ("<p>just HTML</p>", "an MJML document starts with <mjml>", 1, 1),
])
def test_mjml_errors_say_line_and_column(source, message, line, column):
    problems = compile_mjml(source).problems
    assert (problems[0].message, problems[0].line, problems[0].column) == (
        message, line, column)


def test_html_inside_mj_text_need_not_be_mjml():
    source = ("<mjml><mj-body><mj-section><mj-column><mj-text><p>a<br>b</p>"
              "<custom-tag>c</custom-tag></mj-text></mj-column></mj-section></mj-body></mjml>")
    assert compile_mjml(source).problems == ()


def test_text_part_is_generated_from_the_html_with_its_liquid():
    text = html_to_text(compile_mjml(DEFAULT_MJML).html)
    assert 'Hello {{ first_name | default: "friend" }}' in text
    assert "(https://shop.example.com/en/spring?who={{ email }})" in text
    assert "({{ unsubscribe_url }})" in text
    assert "<" not in text and "mso" not in text.lower()


def test_a_written_text_part_is_kept_and_the_preheader_is_hidden_first_text():
    compiled = compile_fields("html", "<html><body><p>Hi</p></body></html>", "", "Soon",
                              "My own text")
    assert compiled.text == "My own text"
    assert compiled.html.startswith('<html><body><div style="display:none')
    assert ">Soon</div><p>Hi</p>" in compiled.html
    assert with_preheader("<p>x</p>", "") == "<p>x</p>"


def test_a_draft_with_an_mjml_error_saves_and_preparation_refuses_it():
    api = Api("paula", "prepare_deliveries")
    audience = api.ok(api.post("/audiences", {"name": "All", "filter": ""}), 201)
    broken = DEFAULT_MJML.replace("</mj-button>", "</mj-buton>")
    saved = api.ok(api.post("/deliveries", delivery_fields(audience["id"], variants=[],
                                                           mjml_body=broken)), 201)
    problems = [f for f in saved["findings"] if f["code"] == "mjml"]
    assert problems and problems[0]["field"] == "mjml_body"
    assert problems[0]["message"].startswith("MJML: ")
    assert (problems[0]["line"], problems[0]["column"]) == (9, 9)
    prepared = api.ok(api.post(f"/deliveries/{saved['id']}/prepare"))
    assert prepared["status"] == "preparation_failed"
    assert any(p["code"] == "mjml" and p["line"] == 9 for p in prepared["preparation"])
    fixed = api.ok(api.patch(f"/deliveries/{saved['id']}", {"mjml_body": DEFAULT_MJML}))
    assert fixed["findings"] == [] and "Hello {{ first_name" in fixed["compiled_html"]


def test_mjml_without_an_unsubscribe_link_is_refused_like_html():
    api = Api("paula", "prepare_deliveries")
    audience = api.ok(api.post("/audiences", {"name": "All", "filter": ""}), 201)
    without = DEFAULT_MJML.replace("{{ unsubscribe_url }}", "https://example.com/bye")
    saved = api.ok(api.post("/deliveries", delivery_fields(audience["id"], variants=[],
                                                           mjml_body=without)), 201)
    assert [(f["code"], f["field"]) for f in saved["findings"]] == [
        ("unsubscribe.missing", "mjml_body")]


def test_visual_mode_stores_the_editor_project_as_given():
    api = Api("paula", "prepare_deliveries")
    project = {"pages": [{"frames": [{"component": {"type": "mj-body"}}]}], "v": 1}
    saved = api.ok(api.post("/deliveries", delivery_fields(
        None, content_mode="visual", visual_project=project, variants=[])), 201)
    assert saved["content_mode"] == "visual" and saved["visual_project"] == project
    assert "Hello {{ first_name" in saved["compiled_html"]
    bad = api.post("/deliveries", delivery_fields(None, content_mode="pdf"))
    assert bad.status_code == 422 and "content_mode" in bad.content.decode()


def test_liquid_blocks_around_sections_survive_compilation():
    source = DEFAULT_MJML.replace(
        "<mj-section>", "{% if first_name %}<mj-section>", 1).replace(
        "</mj-section>", "</mj-section>{% endif %}", 1)
    api = Api("paula", "prepare_deliveries")
    saved = api.ok(api.post("/deliveries", delivery_fields(None, variants=[],
                                                           mjml_body=source)), 201)
    assert saved["findings"] == []
    template = environment.from_string(saved["compiled_html"])
    assert "Shop now" in template.render(first_name="Ada", unsubscribe_url="U")
    assert "Shop now" not in template.render(unsubscribe_url="U")  # no first name
