"""Which links are tracked: read from the template source, the same way for the
renderer and for the redirect."""

from __future__ import annotations

from envoi.tracking.links import Link, rewrite_html, tracked_links


def urls(html: str) -> list[str]:
    return [link.url for link in tracked_links(html)]


def test_web_links_in_a_tags_are_tracked_whatever_the_quoting_or_case():
    html = ('<a href="https://a.example/x">a</a> <A HREF=\'https://b.example/?q=1&amp;r=2\' '
            'class=x>b</A> <a class="btn" href=http://c.example/u>c</a>')
    assert tracked_links(html) == (Link(0, "https://a.example/x", False),
                                   Link(1, "https://b.example/?q=1&amp;r=2", False),
                                   Link(2, "http://c.example/u", False))


def test_unsubscribe_mirror_mailto_tel_anchors_and_notrack_links_stay_as_written():
    html = ('<a href="{{ unsubscribe_url }}">u</a> <a href="{{ mirror_url }}">m</a> '
            '<a href="{{ unsubscribe_url }}&amp;src=footer">u2</a> '
            '<a href="mailto:a@b.example">@</a> <a href="TEL:+8210">t</a> <a href="#top">^</a> '
            '<a data-envoi-notrack href="https://secret.example">s</a> '
            '<a href="https://secret.example" DATA-ENVOI-NOTRACK="">s</a> '
            '<a href="">empty</a> <a href="/relative">r</a> <a href="javascript:x()">j</a> '
            '<a name="anchor">n</a> <abbr href="https://abbr.example">not a link</abbr>')
    assert urls(html) == []


def test_personalized_links_are_tracked_when_they_depend_on_the_profile_alone():
    html = ('<a href="https://s.example/{{ first_name | url_encode }}">p</a> '
            '<a href="{{ attributes.offer_url }}">o</a> '
            '{% for item in attributes.items %}<a href="{{ item.url }}">loop</a>{% endfor %} '
            '<a href="https://s.example/{% if attributes.vip %}vip{% else %}all{% endif %}">'
            'v</a> <a href="https://s.example/{{ broken">b</a>')
    assert tracked_links(html) == (
        Link(0, "https://s.example/{{ first_name | url_encode }}", True),
        Link(1, "{{ attributes.offer_url }}", True),
        Link(2, "https://s.example/{% if attributes.vip %}vip{% else %}all{% endif %}", True),
    )


def test_tags_whose_attributes_liquid_writes_are_left_alone():
    html = ('<a {% if attributes.vip %}href="https://vip.example"{% endif %}>x</a> '
            '<a title="{{ "a > b" }}" href="https://gt.example">y</a> '
            '<a href="https://one.example" href="https://two.example">z</a>')
    assert urls(html) == ["https://gt.example"]


def test_indexes_follow_the_document_and_repeated_urls_get_their_own():
    html = '<a href="https://x.example">1</a><p><a href="https://x.example">2</a></p>'
    assert [(link.index, link.url) for link in tracked_links(html)] == [
        (0, "https://x.example"), (1, "https://x.example")]


def test_the_pixel_goes_before_the_last_body_end_or_at_the_very_end():
    def slotted(html: str) -> str:
        return rewrite_html(html).source(lambda slot: f"[{slot}]")

    assert slotted('<body><a href="https://x.example">x</a></BODY >') == \
        '<body><a href="[0]">x</a>[1]</BODY >'
    assert slotted("<p>no body</p>") == "<p>no body</p>[0]"
