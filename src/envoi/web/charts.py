"""The Deployment block's charts: data cut on the server, drawn by Chart.js in the page.

The server buckets the counts, names every bucket in the reader's language and time
zone, and writes the numbers as JSON beside a ``<canvas>``; ``console.js`` draws them with
the vendored Chart.js (axes, ticks, hover values). The same numbers are written as a
table under each chart: the text a screen reader reads, and what remains without script.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.utils import formats, timezone
from django.utils.translation import gettext as _

MAX_BUCKETS = 120


@dataclass
class Series:
    key: str  # the colour family (opens, clicks, sent, failed)
    label: str
    values: list[float]


@dataclass
class Chart:
    """``kind``: "line" (a rate over time), "bar" (counts over time) or "hbar" (counts
    by category, largest first)."""

    key: str
    title: str
    kind: str
    labels: list[str] = field(default_factory=list)
    series: list[Series] = field(default_factory=list)
    x_title: str = ""
    y_title: str = ""

    @property
    def dom_id(self) -> str:
        return f"chart-{self.key}"

    @property
    def empty(self) -> bool:
        return not self.labels

    @property
    def rows(self) -> list[tuple[str, list[float]]]:
        """The table under the chart: one row per bucket or category."""
        return [(label, [s.values[i] for s in self.series])
                for i, label in enumerate(self.labels)]

    def spec(self) -> dict[str, Any]:
        return {"kind": self.kind, "labels": self.labels, "x_title": self.x_title,
                "y_title": self.y_title,
                "series": [{"key": s.key, "label": s.label, "values": s.values}
                           for s in self.series]}


def _buckets(step: timedelta, series: dict[str, dict[datetime, int]]) -> list[datetime]:
    moments = sorted({moment for counts in series.values() for moment in counts})
    if not moments:
        return []
    buckets: list[datetime] = []
    moment = moments[0]
    while moment <= moments[-1] and len(buckets) < MAX_BUCKETS:
        buckets.append(moment)
        moment += step
    return buckets


def moment_label(moment: datetime) -> str:
    """A bucket's start as the reader writes a date and time, in their zone."""
    return formats.date_format(timezone.localtime(moment), "SHORT_DATETIME_FORMAT")


def _time_axis() -> str:
    return _("Time (%(zone)s)") % {"zone": timezone.get_current_timezone_name()}


def counts_over_time(key: str, title: str, step: timedelta,
                     series: dict[str, dict[datetime, int]], names: dict[str, str]) -> Chart:
    """Counts per time bucket, one bar per series (``names``: series -> label)."""
    chart = Chart(key, str(title), "bar", x_title=_time_axis(), y_title=_("Events"))
    buckets = _buckets(step, series)
    chart.labels = [moment_label(moment) for moment in buckets]
    chart.series = [Series(name, str(label), [series.get(name, {}).get(m, 0) for m in buckets])
                    for name, label in names.items()]
    return chart


def rate_over_time(key: str, title: str, step: timedelta, counts: dict[datetime, int],
                   label: str) -> Chart:
    """A rate per minute over time, from counts per bucket of ``step``."""
    chart = Chart(key, str(title), "line", x_title=_time_axis(),
                  y_title=_("Messages per minute"))
    buckets = _buckets(step, {"n": counts})
    minutes = step.total_seconds() / 60
    chart.labels = [moment_label(moment) for moment in buckets]
    chart.series = [Series("sent", str(label),
                           [round(counts.get(m, 0) / minutes, 1) for m in buckets])]
    return chart


def by_category(key: str, title: str, counts: list[tuple[str, int]]) -> Chart:
    """One bar per category with its count, largest first."""
    ordered = sorted(counts, key=lambda item: (-item[1], item[0]))[:12]
    chart = Chart(key, str(title), "hbar", y_title=_("Reason"), x_title=_("Messages"))
    chart.labels = [label for label, _count in ordered]
    chart.series = [Series("failed", _("Messages"), [count for _label, count in ordered])]
    return chart
