"""The Liquid environment every template renders in, and its limits.

A template is written by a person and rendered for every recipient, for proofs and on
the public mirror page, so a render must end, quickly, whatever the template says:

* **Loop iterations** (``ENVOI_RENDER_LOOP_LIMIT``): a loop, nested loops multiplied,
  may not run more times than this. Checked when a loop starts.
* **Output** (``ENVOI_RENDER_OUTPUT_LIMIT``): characters a render (or a ``capture``)
  may write.
* **Variables** (``ENVOI_RENDER_VARIABLES_LIMIT``): the size of what ``assign`` and
  ``capture`` hold (``sys.getsizeof``, roughly bytes): this is what stops ``append``
  doubling a string in a loop.
* **Time** (``ENVOI_RENDER_SECONDS``): checked at every turn of every loop, the only
  constructs whose cost the template's length does not bound.
* **Numbers**: ``times`` refuses a whole number past 2^1024. Squaring one in a loop
  doubles its size each turn, and a single multiplication of numbers of megabytes
  takes seconds that no check between two turns can interrupt.

``include`` and ``render`` are not tags here: they load templates from files, and a
delivery has none. A template using them is refused when it is saved.

The limits cost nothing on the common path: a template of text and bare outputs never
reaches Liquid (:mod:`envoi.sending.render`), one without loops or variables renders
unlimited (:class:`LimitedTemplate`: it cannot grow), and the others pay a clock read
per render and per loop turn, and a count per write.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable, Iterator
from io import StringIO
from typing import Any

from liquid import BoundTemplate, Environment, RenderContext
from liquid.builtin.tags.assign_tag import AssignNode
from liquid.builtin.tags.capture_tag import CaptureNode
from liquid.builtin.tags.for_tag import ForNode
from liquid.builtin.tags.tablerow_tag import TablerowNode
from liquid.exceptions import FilterArgumentError, OutputStreamLimitError, ResourceLimitError
from liquid.output import LimitedStringIO

from envoi import config

LOOP_LIMIT = int(config.env("ENVOI_RENDER_LOOP_LIMIT", "10000"))
OUTPUT_LIMIT = int(config.env("ENVOI_RENDER_OUTPUT_LIMIT", str(5 * 1024 * 1024)))
VARIABLES_LIMIT = int(config.env("ENVOI_RENDER_VARIABLES_LIMIT", str(1024 * 1024)))
RENDER_SECONDS = float(config.env("ENVOI_RENDER_SECONDS", "1"))

NUMBER_BITS = 1024
"""The largest whole number ``times`` gives, in bits (about 10^308, a float's range)."""

FILE_TAGS = ("include", "render")
"""Tags that load other templates from files: a delivery has none to give them."""


class RenderTimeLimitError(ResourceLimitError):
    """A render ran past ``ENVOI_RENDER_SECONDS``."""


_write = StringIO.write


class _OutputBuffer(LimitedStringIO):
    """Counts characters, not UTF-8 bytes: Liquid's own buffer encodes every write to
    count it, which doubles the cost of a render (measured: 29 against 13 µs for the
    benchmark's HTML). The message-size rule measures the finished message's bytes."""

    def __init__(self, limit: int) -> None:  # noqa: D107 - skips LimitedStringIO's
        StringIO.__init__(self)
        self.limit = limit
        self.size = 0

    def write(self, text: str) -> int:
        size = self.size = self.size + len(text)
        if size > self.limit:
            raise OutputStreamLimitError("output limit reached", token=None)
        return _write(self, text)


def _until(items: Iterator[Any], deadline: float) -> Iterator[Any]:
    """``items``, stopping the render once ``deadline`` has passed."""
    clock = time.monotonic
    for item in items:
        if clock() > deadline:
            raise RenderTimeLimitError("render time limit reached", token=None)
        yield item


class LimitedContext(RenderContext):
    """A render context with a deadline, shared by the contexts copied from it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        parent = kwargs.get("parent_context")
        self.deadline: float = (parent.deadline if isinstance(parent, LimitedContext)
                                else time.monotonic() + self.env.render_seconds)  # type: ignore[attr-defined]

    def loop(self, namespace: Any, forloop: Any) -> Any:
        forloop.it = _until(forloop.it, self.deadline)
        return super().loop(namespace, forloop)

    def get_buffer(self, buf: Any = None) -> StringIO:
        carry = buf.size if isinstance(buf, LimitedStringIO) else 0
        return _OutputBuffer(limit=self.env.output_stream_limit - carry)  # type: ignore[operator]


GROWTH_TAGS = (ForNode, TablerowNode, AssignNode, CaptureNode)
"""Without these, a render's work and output are bounded by the template and the
profile's values: one pass over the nodes, each printing a value at most once."""


class LimitedTemplate(BoundTemplate):
    """A template whose renders are limited, when it can grow at all.

    One without loops or variables (the usual message: text, outputs, filters, ``if``)
    renders as Liquid renders it, with no deadline and a plain buffer: the limits then
    cost nothing (measured: a counted buffer adds ~4 % to the benchmark's render).
    """

    context_class = LimitedContext

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limited = _has_growth_tags(self.nodes)
        if not self.limited:
            self.context_class = RenderContext  # type: ignore[assignment]

    def _get_buffer(self) -> StringIO:
        if not self.limited:
            return StringIO()
        return _OutputBuffer(limit=self.env.output_stream_limit)  # type: ignore[arg-type]


def _has_growth_tags(nodes: Iterable[Any]) -> bool:
    for node in nodes:
        if isinstance(node, GROWTH_TAGS):
            return True
        if _has_growth_tags(node.children(None, include_partials=False)):
            return True
    return False


class LimitedEnvironment(Environment):
    """Liquid as Envoi renders it: limited, and without the file tags."""

    template_class = LimitedTemplate
    loop_iteration_limit = LOOP_LIMIT
    output_stream_limit = OUTPUT_LIMIT
    local_namespace_limit = VARIABLES_LIMIT
    render_seconds = RENDER_SECONDS

    def setup_tags_and_filters(self, *, extra: bool = False) -> None:
        super().setup_tags_and_filters(extra=extra)
        for name in FILE_TAGS:
            self.tags.pop(name, None)
        self.filters["times"] = _bounded(self.filters["times"])


def _bounded(times: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(times)
    def bounded_times(*args: Any, **kwargs: Any) -> Any:
        product = times(*args, **kwargs)
        if isinstance(product, int) and product.bit_length() > NUMBER_BITS:
            raise FilterArgumentError("times: the result is too large", token=None)
        return product

    return bounded_times


PERSONALIZATION_ERROR = "personalization_error"
"""The failure reason of a sending-log row whose message could not be rendered."""
MESSAGE_TOO_LARGE = "message_too_large"
"""The failure reason of a row whose rendered message is over :data:`MESSAGE_SIZE_LIMIT`."""
MESSAGE_SIZE_LIMIT = 5 * 1024 * 1024
"""Bytes: the most a message may weigh, its template before sending and each rendered
message as it leaves."""


class PersonalizationError(Exception):
    """A recipient's message could not be rendered: where, and why."""

    reason = PERSONALIZATION_ERROR

    def __init__(self, message: str, field: str = "", line: int | None = None,
                 column: int | None = None):
        self.message, self.field, self.line, self.column = message, field, line, column
        super().__init__(str(self))

    def __str__(self) -> str:
        where = [self.field] if self.field else []
        if self.line is not None:
            where += [f"line {self.line}", f"column {self.column}"]
        return f"{', '.join(where)}: {self.message}" if where else self.message


class MessageTooLarge(PersonalizationError):
    reason = MESSAGE_TOO_LARGE


def error_message(error: BaseException) -> str:
    """What went wrong, without Liquid's source excerpt (the position says where)."""
    message = getattr(error, "message", None)
    return str(message or error) or type(error).__name__


def error_index(error: BaseException) -> int | None:
    token = getattr(error, "token", None)
    return getattr(token, "start_index", None)
