"""From a sending-log row and its profile to the bytes handed to the relay.

A :class:`DeliveryRenderer` is built once per delivery: parsed templates, the tracked
links (:mod:`envoi.tracking.links`) and the MIME skeleton are reused for every
recipient, so the per-message work is one set of tracking tokens, the Liquid render of
the personalized parts and one concatenation. Parts made only of text and bare
``{{ name }}`` outputs skip Liquid: they are fixed text with gaps (:class:`PlainParts`,
:mod:`envoi.sending.layout`).

Tracking lives in the HTML part only: its links become signed click redirects and an
open pixel goes before ``</body>``. The text part keeps its URLs as written, because
there the reader sees the address itself, and an opaque redirect in its place reads
as phishing to people and spam filters alike. Both parts may use ``{{ mirror_url }}``
and ``{{ unsubscribe_url }}``.

Proofs (row :data:`PROOF_ROW`) carry no tracking at all: their links are the original
targets, they have no pixel, and their mirror and unsubscribe links lead to pages that
say "this is a proof".

A message that cannot be made raises :class:`~envoi.deliveries.liquid.PersonalizationError`
and nothing else: a Liquid error for this profile's values (``divided_by`` an attribute
it lacks), a render limit reached (:mod:`envoi.deliveries.liquid`), a header that a
value broke, or a message over the size limit. Callers fail that one recipient.
"""

from __future__ import annotations

import html
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property, lru_cache, partial
from operator import itemgetter
from typing import Any

from django.conf import settings
from liquid import BoundTemplate
from liquid.builtin.content import ContentNode
from liquid.builtin.expressions.filtered import FilteredExpression
from liquid.builtin.expressions.path import Path
from liquid.builtin.output import OutputNode
from liquid.exceptions import LiquidError

from envoi.audiences.names import display_name
from envoi.deliveries.content import (
    PROFILE_FIELDS,
    TEMPLATE_FIELDS,
    check_template,
    compile_content,
    environment,
    line_and_column,
)
from envoi.deliveries.liquid import (
    MESSAGE_SIZE_LIMIT,
    MessageTooLarge,
    PersonalizationError,
    RenderTimeLimitError,
    error_index,
    error_message,
)
from envoi.deliveries.models import Delivery
from envoi.sending.layout import AssembledPart, PartLayout
from envoi.sending.mime import Body, MessageSkeleton, format_date, make_message_id
from envoi.tracking import links, tokens

LOCATE_WITHIN = 0.05
"""Seconds: a failed render that took longer is not rendered again to locate its error."""

PROOF_ROW = 0
"""Proofs are rendered for this row id: they are not in the sending log."""


@dataclass(frozen=True)
class OutgoingMessage:
    """One recipient's message in two forms: ``data_8bit``, with the bodies unencoded
    where they allow it (for a relay that offers 8BITMIME), and :attr:`data`, 7-bit
    clean for any relay, built only when asked for."""

    row_id: int
    mail_from: str
    rcpt_to: str
    message_id: str
    data_8bit: bytes
    build_7bit: Callable[[], bytes] = field(repr=False, compare=False)

    @cached_property
    def data(self) -> bytes:
        """The message with base64 bodies (an ASCII ``data_8bit`` already is 7-bit)."""
        return self.data_8bit if self.data_8bit.isascii() else self.build_7bit()


def profile_context(profile: dict[str, Any]) -> dict[str, Any]:
    context = {field: profile.get(field) or "" for field in PROFILE_FIELDS}
    context["attributes"] = profile.get("attributes") or {}
    return context


_SLOT = f"\x00{secrets.randbelow(10 ** 9)}:"
"""Marks a slot in a rendered HTML part; the nonce, drawn per process, keeps any
profile value from imitating one."""
_KEYED_SLOT = re.compile(re.escape(_SLOT) + r"(\d+);")


@dataclass
class Slots:
    """The text of each slot of one message — its links, then its pixel — in three
    parts that concatenate: a click URL is ``click head + link field + MAC``, so the
    common case joins these lists straight into the HTML instead of building ~45 URL
    strings first."""

    heads: list[str]
    fields: list[str]
    macs: list[str]

    @classmethod
    def of_texts(cls, texts: list[str]) -> Slots:
        return cls(texts, [""] * len(texts), [""] * len(texts))

    def set(self, slot: int, text: str) -> None:
        self.heads[slot], self.fields[slot], self.macs[slot] = text, "", ""

    def texts(self) -> list[str]:
        return [h + f + m for h, f, m in zip(self.heads, self.fields, self.macs, strict=True)]


@dataclass(frozen=True)
class SlottedHtml:
    """An HTML template whose slots come out of Liquid as markers, and how to fill them.

    Tracked links and the pixel are *slots*: the template holds a marker there, Liquid
    passes it through as plain text, and one split after rendering puts each
    recipient's URLs in. (A Liquid variable per link costs ~1.5 µs each, 70 µs a
    message.) When every marker sits in top-level text, in slot order, each comes out
    exactly once and in order, so a plain ``str.split`` and an interleave of lists do
    it; otherwise (a link inside ``{% if %}`` or ``{% for %}``) markers carry their slot
    number and a regex finds them.
    """

    template: BoundTemplate
    source: str
    in_order: bool

    def fill(self, rendered: str, slots: Slots) -> str:
        if self.in_order:
            pieces = rendered.split(_SLOT)
            out = [""] * (4 * len(pieces) - 3)
            out[0::4] = pieces
            out[1::4] = slots.heads
            out[2::4] = slots.fields
            out[3::4] = slots.macs
            return "".join(out)
        texts = slots.texts()
        pieces = _KEYED_SLOT.split(rendered)
        pieces[1::2] = [texts[int(slot)] for slot in pieces[1::2]]
        return "".join(pieces)


@lru_cache(maxsize=64)
def slotted_html(html_source: str) -> SlottedHtml:
    """The delivery's HTML template with its slots, parsed once per process."""
    rewritten = links.rewrite_html(html_source)
    plain_source = rewritten.source(lambda slot: _SLOT)
    plain = environment.from_string(plain_source)
    slots = [piece for piece in rewritten.pieces if isinstance(piece, int)]
    top_level = sum(node.text.count(_SLOT) for node in plain.nodes
                    if isinstance(node, ContentNode))
    if slots == sorted(slots) and top_level == len(slots):
        return SlottedHtml(plain, plain_source, in_order=True)
    keyed_source = rewritten.source(lambda slot: f"{_SLOT}{slot};")
    return SlottedHtml(environment.from_string(keyed_source), keyed_source, in_order=False)


_PART = f"\x00{secrets.randbelow(10 ** 9)}|"
"""Separates subject, text and HTML in a combined render; a per-process nonce, like
the slot marker."""


@lru_cache(maxsize=64)
def combined_template(subject: str, text: str, html: str) -> BoundTemplate | None:
    """Subject, text and (slotted) HTML as one template, joined by :data:`_PART`.

    One Liquid render per message instead of three: each render sets up a context
    and a buffer, ~10 µs, whatever the template's size (measured: the benchmark's
    subject alone takes 10 µs). Only when the subject and text hold nothing but text
    and ``{{ outputs }}``: a tag there (``{% assign %}``, ``{% cycle %}``) could change
    what the later parts see, which separate renders never do. ``None`` otherwise.
    """
    if not (_outputs_only(subject) and _outputs_only(text)):
        return None
    return environment.from_string(_PART.join((subject, text, html)))


@dataclass(frozen=True)
class PlainTemplate:
    """A template made of text and bare ``{{ name }}`` outputs only, rendered by one
    join: Liquid's render costs ~25 µs a message here, mostly setting up its context.

    A bare output of a string prints it unchanged (no filters, no autoescape), so the
    join gives exactly Liquid's text; for any other value (``None``, a number, a dict)
    :meth:`render` answers ``None`` and the caller renders with Liquid.
    """

    pieces: tuple[str, ...]  # text, name, text, name, …, text

    @classmethod
    def of(cls, template: BoundTemplate) -> PlainTemplate | None:
        pieces = [""]
        for node in template.nodes:
            if isinstance(node, ContentNode):
                pieces[-1] += node.text
                continue
            name = _bare_output(node)
            if name is None:
                return None
            pieces += [name, ""]
        return cls(tuple(pieces))

    def render(self, context: dict[str, Any]) -> str | None:
        out = list(self.pieces)
        for index in range(1, len(out), 2):
            value = context.get(out[index])
            if not isinstance(value, str):
                return None
            out[index] = value
        return "".join(out)


def _bare_output(node: object) -> str | None:
    """The name ``node`` outputs, if it is ``{{ name }}`` with no filters."""
    if not isinstance(node, OutputNode):
        return None
    expression = node.expression
    if not isinstance(expression, FilteredExpression) or expression.filters:
        return None
    path = expression.left
    if not isinstance(path, Path) or len(path.path) != 1 or not isinstance(path.path[0], str):
        return None
    return path.path[0]


@dataclass(frozen=True)
class PlainParts:
    """Subject, text and HTML of a :class:`PlainTemplate` whose HTML slots are in order,
    as :class:`~envoi.sending.layout.PartLayout`: the text and HTML parts are each fixed
    text with gaps, which the recipient's values and slot texts fill. That spares the
    splits of a combined render, and the layouts know once per delivery most of what
    decides whether a body may travel unencoded.

    A gap names an index into the *sources* of one message: the values of
    :attr:`names`, then the slots' heads, fields and MACs (a slot is three gaps).
    """

    names: tuple[str, ...]
    subject: PlainTemplate
    text: PartLayout
    html: PartLayout
    text_gaps: Callable[[list[str]], tuple[str, ...]]
    html_gaps: Callable[[list[str]], tuple[str, ...]]

    @classmethod
    def of(cls, plain: PlainTemplate, slots: int) -> PlainParts | None:
        """``None`` unless ``plain`` holds three parts and its HTML exactly ``slots``
        slot markers."""
        names = tuple(dict.fromkeys(plain.pieces[1::2]))
        parts = _split_parts(plain.pieces, {name: i for i, name in enumerate(names)})
        if len(parts) != 3:
            return None
        subject, (text_fixed, text_gaps), html = parts
        html_fixed, html_gaps = _with_slots(*html, first=len(names), slots=slots)
        if len(html_gaps) != len(html[1]) + 3 * slots:
            return None
        return cls(names, _template_of(subject, names),
                   PartLayout.of(text_fixed), PartLayout.of(html_fixed),
                   _picker(text_gaps), _picker(html_gaps))

    def assemble(self, context: dict[str, Any], slots: Slots,
                 ) -> tuple[str, AssembledPart, AssembledPart] | None:
        """The message's parts, or ``None`` when a value is not a string (which Liquid
        prints its own way)."""
        values: list[Any] = [context.get(name) for name in self.names]
        if not all(isinstance(value, str) for value in values):
            return None
        sources = [*values, *slots.heads, *slots.fields, *slots.macs]
        return (self.subject.render(context) or "",
                self.text.assemble(self.text_gaps(sources)),
                self.html.assemble(self.html_gaps(sources)))


Gaps = tuple[list[str], list[int]]
"""A part being split: its fixed pieces, and the source index of each gap between."""


def _split_parts(pieces: tuple[str, ...], name_index: dict[str, int]) -> list[Gaps]:
    """The pieces of a combined template (text, name, text, …) cut at :data:`_PART`."""
    parts: list[Gaps] = [([""], [])]
    for position, piece in enumerate(pieces):
        fixed, gaps = parts[-1]
        if position % 2:
            gaps.append(name_index[piece])
            fixed.append("")
            continue
        first, *rest = piece.split(_PART)
        fixed[-1] += first
        parts += [([chunk], []) for chunk in rest]
    return parts


def _with_slots(fixed: list[str], gaps: list[int], first: int, slots: int) -> Gaps:
    """The HTML part with each slot marker turned into three gaps: the slot's head,
    field and MAC, which come after the ``first`` name values among the sources."""
    out_fixed, out_gaps, slot = [""], [], 0
    for position, piece in enumerate(fixed):
        head, *after_markers = piece.split(_SLOT)
        out_fixed[-1] += head
        for chunk in after_markers:
            out_gaps += [first + slot, first + slots + slot, first + 2 * slots + slot]
            out_fixed += ["", "", chunk]
            slot += 1
        if position < len(gaps):
            out_gaps.append(gaps[position])
            out_fixed.append("")
    return out_fixed, out_gaps


def _template_of(part: Gaps, names: tuple[str, ...]) -> PlainTemplate:
    fixed, gaps = part
    pieces = [fixed[0]]
    for gap, text in zip(gaps, fixed[1:], strict=True):
        pieces += [names[gap], text]
    return PlainTemplate(tuple(pieces))


def _picker(indices: list[int]) -> Callable[[list[str]], tuple[str, ...]]:
    """``sources -> tuple(sources[i] for i in indices)``, in C where it can be."""
    if len(indices) > 1:
        return itemgetter(*indices)
    return lambda sources: tuple(sources[i] for i in indices)


def _outputs_only(source: str) -> bool:
    try:
        nodes = environment.from_string(source).nodes
    except LiquidError:
        return False
    return all(isinstance(node, ContentNode | OutputNode) for node in nodes)


def unreadable(delivery: Delivery, error: LiquidError) -> PersonalizationError:
    """The first problem of the delivery's templates, with its field, line and column."""
    for name in TEMPLATE_FIELDS:
        problems = check_template(name, getattr(delivery, name))
        if problems:
            problem = problems[0]
            return PersonalizationError(problem.message, name, problem.line, problem.column)
    return PersonalizationError(error_message(error))


class DeliveryRenderer:
    """One delivery's messages: build it once per delivery, then :meth:`render` each row."""

    def __init__(self, delivery: Delivery, subject_prefix: str = "", link_offset: int = 0):
        """:class:`PersonalizationError` for templates that no longer parse (stored
        before a rule refused them, as ``{% include %}`` now is)."""
        try:
            self._build(delivery, subject_prefix, link_offset)
        except LiquidError as error:
            raise unreadable(delivery, error) from error

    def _build(self, delivery: Delivery, subject_prefix: str, link_offset: int) -> None:
        self.delivery_id = delivery.pk
        self.subject_prefix = subject_prefix
        # A language variant's links are numbered after the variants before it.
        self.link_offset = link_offset
        # Where a failed render is located, in this order: the HTML before the text part,
        # which may be generated from it and then holds the same Liquid.
        self.sources = (("subject", delivery.subject), ("html_body", delivery.html_body),
                        ("text_body", delivery.text_body))
        self.links = links.tracked_links(delivery.html_body) if delivery.html_body else ()
        self.personalized_links = tuple(
            (link.index, environment.from_string(link.url))
            for link in self.links if link.personalized)
        self.html = slotted_html(delivery.html_body) if delivery.html_body else None
        self.content = compile_content(delivery.subject, "", delivery.text_body)
        self.combined = combined_template(delivery.subject, delivery.text_body,
                                          self.html.source if self.html else "")
        self.plain = PlainTemplate.of(self.combined) if self.combined is not None else None
        self.layouts = (PlainParts.of(self.plain, len(self.links) + 1)
                        if self.plain is not None and self.html and self.html.in_order else None)
        self.skeleton = MessageSkeleton(
            sender=delivery.sender, reply_to=delivery.reply_to,
            has_html=self.html is not None, has_text=self.content.text is not None,
            extra_headers={"X-Envoi-Delivery": str(delivery.pk)},
        )

    def render(self, row_id: int, address: str, profile: dict[str, Any],
               unsubscribe_url: str | None = None,
               message_key: str | None = None) -> OutgoingMessage:
        """The recipient's message; :class:`PersonalizationError` when it cannot be made."""
        started = time.monotonic()
        try:
            message = self._render(row_id, address, profile, unsubscribe_url, message_key)
        except PersonalizationError:
            raise
        except Exception as error:  # whatever a profile's values broke: this message only
            raise self.located(error, profile, time.monotonic() - started) from error
        if len(message.data_8bit) > MESSAGE_SIZE_LIMIT:
            raise MessageTooLarge(
                f"the rendered message is {len(message.data_8bit) // 1024} KB; "
                f"the limit is {MESSAGE_SIZE_LIMIT // 1024} KB")
        return message

    def _render(self, row_id: int, address: str, profile: dict[str, Any],
                unsubscribe_url: str | None, message_key: str | None) -> OutgoingMessage:
        context, slots = self.context(row_id, profile, unsubscribe_url)
        subject, text, html_part = self.message_parts(context, slots)
        # One Message-ID per sending-log row, stable across a crash-induced resend.
        message_id = make_message_id(message_key or f"{self.delivery_id}.{row_id}.envoi",
                                     settings.ENVOI_BOUNCE_DOMAIN)
        build = partial(
            self.skeleton.build,
            to_addr=address,
            to_name=display_name(context["first_name"], context["last_name"],
                                 profile.get("language")),
            subject=self.subject_prefix + subject,
            html=html_part,
            text=text,
            message_id=message_id,
            date=format_date(),
            list_unsubscribe=f"<{context['unsubscribe_url']}>",
        )
        return OutgoingMessage(row_id=row_id, mail_from=tokens.return_path(row_id),
                               rcpt_to=address, message_id=message_id,
                               data_8bit=build(eight_bit=True), build_7bit=build)

    def mirror_html(self, row_id: int, profile: dict[str, Any]) -> str:
        """The HTML part as this recipient received it, minus the open pixel: viewing
        the mirror page is recorded as a mirror view, not as an open.
        :class:`PersonalizationError` when it cannot be made."""
        started = time.monotonic()
        try:
            context, slots = self.context(row_id, profile)
            slots.set(len(self.links), "")  # the pixel
            if self.html is not None:
                return self.html_part(context, slots)
            text = self.content.text.render(**context) if self.content.text else ""
        except Exception as error:
            raise self.located(error, profile, time.monotonic() - started) from error
        return f"<pre>{html.escape(text)}</pre>"

    def located(self, error: Exception, profile: dict[str, Any], took: float,
                ) -> PersonalizationError:
        """``error`` with the field, line and column it comes from.

        The templates rendered are rewritten (parts joined, links made slots), so their
        positions are not the author's: each field is rendered again, as written, for
        the same profile, until one fails. Only on this (rare) path, and only when the
        failed render was quick (:data:`LOCATE_WITHIN`): one cut off by a limit after
        a second of work is not run again.
        """
        if took > LOCATE_WITHIN or isinstance(error, RenderTimeLimitError):
            return PersonalizationError(error_message(error))
        context = profile_context(profile)
        context.update(unsubscribe_url="", mirror_url="")
        for name, source in self.sources:
            try:
                environment.from_string(source).render(**context)
            except Exception as found:
                index = error_index(found)
                line, column = line_and_column(source, index) if index is not None else (
                    None, None)
                return PersonalizationError(error_message(found), name, line, column)
        return PersonalizationError(error_message(error))

    def message_parts(self, context: dict[str, Any], slots: Slots) -> tuple[str, Body, Body]:
        """The subject, text part and HTML part, assembled from the delivery's layouts
        where they allow it (:class:`PlainParts`), rendered otherwise."""
        if self.layouts is not None:
            assembled = self.layouts.assemble(context, slots)
            if assembled is not None:
                return assembled
        return self.parts(context, slots)

    def parts(self, context: dict[str, Any], slots: Slots) -> tuple[str, str, str]:
        """The rendered subject, text part and HTML part."""
        if self.combined is not None:
            rendered = self.plain.render(context) if self.plain is not None else None
            if rendered is None:
                rendered = self.combined.render(**context)
            subject, text, html_part = rendered.split(_PART, 2)
            return subject, text, self.html.fill(html_part, slots) if self.html else ""
        content = self.content
        return (content.subject.render(**context),
                content.text.render(**context) if content.text else "",
                self.html_part(context, slots))

    def html_part(self, context: dict[str, Any], slots: Slots) -> str:
        if self.html is None:
            return ""
        return self.html.fill(self.html.template.render(**context), slots)

    def context(self, row_id: int, profile: dict[str, Any], unsubscribe_url: str | None = None,
                ) -> tuple[dict[str, Any], Slots]:
        """What the templates may name for this recipient, and the text of each slot
        (the links', then the pixel's)."""
        context = profile_context(profile)
        if row_id == PROOF_ROW:
            context["unsubscribe_url"] = unsubscribe_url or f"{settings.ENVOI_BASE_URL}/u/proof"
            context["mirror_url"] = f"{settings.ENVOI_BASE_URL}/m/proof"
            return context, self._untracked_slots(context)
        context["unsubscribe_url"] = unsubscribe_url or tokens.unsubscribe_url(row_id)
        offset = self.link_offset
        urls = tokens.MessageTokens(self.delivery_id, row_id).urls(
            settings.ENVOI_BASE_URL, offset + len(self.links))
        context["mirror_url"] = urls.mirror
        links_count = len(self.links)
        slots = Slots([urls.click_head] * links_count + [tokens.pixel_tag(urls.open)],
                      [*urls.link_fields[offset:], ""], [*urls.link_macs[offset:], ""])
        for index, template in self.personalized_links:
            target = template.render(**context)
            if not links.is_web_url(html.unescape(target)):
                slots.set(index, target)  # nothing a redirect could lead to: leave it be
        return context, slots

    def _untracked_slots(self, context: dict[str, Any]) -> Slots:
        """Proof slots: every link's original target, and no pixel."""
        texts = [link.url for link in self.links]
        for index, template in self.personalized_links:
            texts[index] = template.render(**context)
        return Slots.of_texts([*texts, ""])
