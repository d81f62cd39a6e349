"""Charts drawn on the server as SVG: no chart script to download, nothing to run.

A chart is a few dozen rectangles whose sizes the server computes; the template
(``web/_chart.html``) writes them out, each with a ``<title>`` that names its bucket
and count, which browsers show on hover.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils import formats, timezone

WIDTH, HEIGHT = 480, 140
MAX_BARS = 120


@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    title: str
    tone: str


@dataclass
class Chart:
    title: str
    bars: list[Bar] = field(default_factory=list)
    legend: list[tuple[str, str]] = field(default_factory=list)  # (tone, label)
    peak: int = 0
    first: str = ""
    last: str = ""
    width: int = WIDTH
    height: int = HEIGHT

    @property
    def empty(self) -> bool:
        return not self.bars


def _buckets(step: timedelta, series: dict[str, dict[datetime, int]]) -> list[datetime]:
    moments = sorted({moment for counts in series.values() for moment in counts})
    if not moments:
        return []
    buckets: list[datetime] = []
    moment = moments[0]
    while moment <= moments[-1] and len(buckets) < MAX_BARS:
        buckets.append(moment)
        moment += step
    return buckets


def _moment_label(moment: datetime) -> str:
    local = timezone.localtime(moment)
    return f"{formats.date_format(local, 'SHORT_DATETIME_FORMAT')} {local.tzname()}"


def over_time(title: str, step: timedelta, series: dict[str, dict[datetime, int]],
              names: dict[str, str]) -> Chart:
    """Side-by-side bars per time bucket, one colour per series (``names``: label)."""
    chart = Chart(str(title), legend=[(name, str(label)) for name, label in names.items()])
    buckets = _buckets(step, series)
    if not buckets:
        return chart
    chart.peak = max(max(counts.values(), default=0) for counts in series.values()) or 1
    slot = WIDTH / len(buckets)
    width = max(slot / len(names) - 1, 1)
    for i, moment in enumerate(buckets):
        for j, (name, label) in enumerate(names.items()):
            count = series.get(name, {}).get(moment, 0)
            height = HEIGHT * count / chart.peak
            chart.bars.append(Bar(i * slot + j * (width + 1), HEIGHT - height, width, height,
                                  f"{_moment_label(moment)} · {label}: {count}", name))
    chart.first, chart.last = _moment_label(buckets[0]), _moment_label(buckets[-1])
    return chart


def by_category(title: str, counts: list[tuple[str, int]]) -> Chart:
    """One horizontal bar per category, longest first."""
    chart = Chart(str(title))
    ordered = sorted(counts, key=lambda item: -item[1])[:12]
    if not ordered:
        return chart
    chart.peak = ordered[0][1] or 1
    row = HEIGHT / max(len(ordered), 4)
    for i, (label, count) in enumerate(ordered):
        chart.bars.append(Bar(0, i * row + 2, WIDTH * 0.6 * count / chart.peak, row - 4,
                              f"{label}: {count}", "failed"))
    return chart
