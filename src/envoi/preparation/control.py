"""Control rules (SPEC §3): what must be true of a delivery's content before it is sent.

Each rule returns findings; an ``error`` blocks sending, a ``warning`` is shown in yellow.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.db import DatabaseError, connection
from django.utils import translation
from django.utils.translation import gettext_noop

from envoi.deliveries.content import (
    TEMPLATE_FIELDS,
    attribute_divisors,
    check_template,
    line_and_column,
    uses_variable,
)
from envoi.deliveries.liquid import MESSAGE_SIZE_LIMIT
from envoi.deliveries.models import Delivery
from envoi.sending.email.domains import from_domain_problems
from envoi.sending.mime import HeaderValueError, parse_mailbox
from envoi.words import Words

ERROR, WARNING = "error", "warning"
SIZE_WARNING_BYTES = 100 * 1024  # Gmail clips bodies past ~102 KB
SIZE_ERROR_BYTES = MESSAGE_SIZE_LIMIT  # each rendered message is held to it when sent

_HREF = re.compile(r"""\bhref\s*=\s*(["'])(.*?)\1""", re.IGNORECASE | re.DOTALL)
_LIQUID = re.compile(r"{{.*?}}|{%.*?%}", re.DOTALL)


@dataclass(frozen=True)
class Finding:
    """What a rule found. ``message`` is English (what the API answers); written as
    :class:`Words` it is also shown translated in the console. A plain ``str`` is
    shown as it is."""

    level: str
    code: str
    message: str | Words
    field: str = ""
    line: int | None = None
    column: int | None = None


def check_delivery(delivery: Delivery) -> list[Finding]:
    findings: list[Finding] = []
    for rule in RULES:
        findings.extend(rule(delivery))
    return findings


def empty_content(delivery: Delivery) -> Iterator[Finding]:
    if not delivery.html_body.strip() and not delivery.text_body.strip():
        yield Finding(ERROR, "content.empty",
                      Words(gettext_noop("The message has no content (HTML or text).")))


def empty_subject(delivery: Delivery) -> Iterator[Finding]:
    if not delivery.subject.strip():
        yield Finding(ERROR, "subject.empty", Words(gettext_noop("The subject is empty.")),
                      "subject")


def header_characters(delivery: Delivery) -> Iterator[Finding]:
    if "\r" in delivery.subject or "\n" in delivery.subject:
        yield Finding(ERROR, "subject.line_break",
                      Words(gettext_noop("The subject contains a line break (CR/LF).")),
                      "subject")
    for field in ("sender", "reply_to"):
        value = getattr(delivery, field)
        if field == "reply_to" and not value:
            continue
        try:
            parse_mailbox(value, field)
        except HeaderValueError as error:
            yield Finding(ERROR, f"{field}.invalid", str(error), field)


def sender_liquid(delivery: Delivery) -> Iterator[Finding]:
    """Sender and reply-to are not personalized: Liquid there would go out as written.
    Refused rather than rendered, because the sender is what recipients, filters and
    DMARC judge the message by: it must be the same, known address for everyone."""
    for field in ("sender", "reply_to"):
        match = _LIQUID.search(getattr(delivery, field))
        if match:
            yield Finding(ERROR, f"{field}.liquid",
                          Words(gettext_noop(
                              "%(field)s: %(written)s would be sent as written: the sender "
                              "and reply-to addresses are not personalized. Write a fixed "
                              "address."), field=field, written=repr(match.group(0))),
                          field, 1, match.start() + 1)


def personalization(delivery: Delivery) -> Iterator[Finding]:
    for field in ("subject", "html_body", "text_body"):
        for problem in check_template(field, getattr(delivery, field)):
            yield Finding(ERROR, "personalization",
                          Words("%(field)s: %(problem)s", field=field,
                                problem=problem.message), field,
                          problem.line, problem.column)


def divisor_attributes(delivery: Delivery) -> Iterator[Finding]:
    """``divided_by: attributes.x`` fails the message of every profile without ``x``
    (or with 0): a warning that says for how many of the audience's profiles."""
    for field in TEMPLATE_FIELDS:
        source = getattr(delivery, field)
        for use in attribute_divisors(source):
            lacking = profiles_lacking(delivery, use.attribute)
            if not lacking:
                continue
            yield Finding(WARNING, "personalization.may_fail",
                          Words(gettext_noop(
                              '%(field)s: "%(filter)s: attributes.%(attribute)s" fails for '
                              "the %(lacking)s targeted profiles without that attribute (or "
                              "with 0): their messages will not be sent (personalization "
                              "error). Give a default, e.g. attributes.%(attribute)s | "
                              "default: 1."), field=field, filter=use.filter,
                              attribute=use.attribute, lacking=lacking),
                          field, *line_and_column(source, use.index))


def profiles_lacking(delivery: Delivery, attribute: str) -> int:
    """Profiles of the delivery's audience whose ``attribute`` is missing, empty or 0."""
    from envoi.audiences.filters import FilterError
    from envoi.preparation.targeting import audience_condition

    if delivery.audience is None:
        return 0
    try:
        condition, params = audience_condition(delivery.audience)
    except FilterError:
        return 0  # the audience rule reports it
    if connection.vendor == "postgresql":
        value = "COALESCE(p.attributes -> %s, 'null'::jsonb)"
        lacking = f"{value} IN ('null'::jsonb, '0'::jsonb, '\"\"'::jsonb, '\"0\"'::jsonb)"
        key = [attribute]
    else:
        lacking = "COALESCE(json_extract(p.attributes, %s), '') IN ('', 0, '0')"
        key = ['$."' + attribute.replace('"', '\\"') + '"']
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT COUNT(*) FROM audiences_profile p "  # noqa: S608
                           f"WHERE ({condition}) AND {lacking}", [*params, *key])
            return int(cursor.fetchone()[0])
    except DatabaseError:
        return 0


def unsubscribe_link(delivery: Delivery) -> Iterator[Finding]:
    if not delivery.is_marketing:
        return
    bodies = [b for b in (delivery.html_body, delivery.text_body) if b.strip()]
    if bodies and not any(uses_variable(body, "unsubscribe_url") for body in bodies):
        yield Finding(ERROR, "unsubscribe.missing",
                      Words(gettext_noop("A marketing email needs an unsubscribe link: add "
                                         "{{ unsubscribe_url }}.")),
                      "html_body")


def tracked_urls(delivery: Delivery) -> Iterator[Finding]:
    html = delivery.html_body
    for match in _HREF.finditer(html):
        url = match.group(2).strip()
        if not url or _LIQUID.fullmatch(url):
            continue  # an entirely personalized link, checked once rendered
        problem = url_problem(_LIQUID.sub("x", url))
        if problem:
            line, column = line_and_column(html, match.start(2))
            yield Finding(ERROR, "url.malformed",
                          Words(gettext_noop("Malformed link %(url)s: %(problem)s"),
                                url=repr(url), problem=problem),
                          "html_body", line, column)


def url_problem(url: str) -> Words | str | None:
    if any(c in url for c in " \t\r\n<>\""):
        return Words(gettext_noop("it contains spaces or forbidden characters"))
    try:
        parts = urlsplit(url)
    except ValueError as error:
        return str(error)
    if parts.scheme in ("mailto", "tel"):
        return None if parts.path else Words(gettext_noop("it has no address"))
    if parts.scheme in ("http", "https"):
        return None if parts.hostname else Words(gettext_noop("it has no host"))
    if url.startswith("#"):
        return None
    return Words(gettext_noop("links must start with http://, https://, mailto: or tel:"))


def message_size(delivery: Delivery) -> Iterator[Finding]:
    size = len(delivery.html_body.encode()) + len(delivery.text_body.encode())
    if size >= SIZE_ERROR_BYTES:
        yield Finding(ERROR, "size.too_large",
                      Words(gettext_noop("The message is %(size)s KB; the limit is "
                                         "%(limit)s KB."),
                            size=size // 1024, limit=SIZE_ERROR_BYTES // 1024))
    elif size >= SIZE_WARNING_BYTES:
        yield Finding(WARNING, "size.large",
                      Words(gettext_noop("The message is %(size)s KB; mailboxes may clip "
                                         "it past %(limit)s KB."),
                            size=size // 1024, limit=SIZE_WARNING_BYTES // 1024))


def sending_domain(delivery: Delivery) -> Iterator[Finding]:
    """A From domain known as a sending domain whose DNS checks fail (SPF, DKIM, DMARC,
    return path: :mod:`envoi.sending.email.domains`): receivers may refuse or file the
    mail as spam, so it is said in yellow; the ``bulk_sender`` rules make it red."""
    try:
        _name, address = parse_mailbox(delivery.sender, "sender")
    except HeaderValueError:
        return  # said by header_characters
    domain = address.rpartition("@")[2].lower()
    failed = from_domain_problems(domain)
    if failed:
        with translation.override("en"):  # findings are stored in the core's English
            problems = " ".join(check.message for check in failed)
        yield Finding(WARNING, "sending_domain.checks",
                      Words(gettext_noop("The DNS checks of the sending domain %(domain)s "
                                         "fail: %(problems)s"),
                            domain=domain, problems=problems),
                      "sender")


RULES: list[Callable[[Delivery], Iterator[Finding]]] = [
    empty_content, empty_subject, header_characters, sender_liquid, personalization,
    divisor_attributes, unsubscribe_link, tracked_urls, message_size, sending_domain,
]
