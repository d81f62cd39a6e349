"""Worst-case templates against the render limits: each must be cut off, fast.

Renders hostile templates (deep and long loops, ``append`` doubling, output floods,
growing numbers) through a :class:`~envoi.sending.render.DeliveryRenderer` as the worker
does, and reports for each what stopped it, the wall time of the render and how much
its peak resident memory grew (measured in a forked child that renders it once: the
child's peak RSS less the parent's at the fork).
No database, no SMTP. Exits 1 if any render was not cut off, or ran longer than the time
limit plus a margin (``--margin``, seconds).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))

import common  # noqa: E402

UNSUBSCRIBE = " {{ unsubscribe_url }}"
CASES = {
    "append doubling": ('{% assign s = "0123456789" %}{% for i in (1..60) %}'
                        "{% assign s = s | append: s %}{% endfor %}{{ s }}"),
    "capture doubling": ('{% assign s = "0123456789" %}{% for i in (1..60) %}'
                         "{% capture s %}{{ s }}{{ s }}{% endcapture %}{% endfor %}{{ s }}"),
    "loop to a billion": "{% for i in (1..1000000000) %}{{ i }}{% endfor %}",
    "nested loops 1000^3": ("{% for a in (1..1000) %}{% for b in (1..1000) %}"
                            "{% for c in (1..1000) %}x{% endfor %}{% endfor %}{% endfor %}"),
    "slow turns within the iteration limit": (
        '{% capture big %}{% for i in (1..3000) %}0123456789{% endfor %}{% endcapture %}'
        '{% for i in (1..9000) %}{% assign parts = big | split: "" | join: "," %}'
        "{% endfor %}"),
    "output flood": "{% for i in (1..9999) %}{{ attributes.block }}{% endfor %}",
    "growing number": ("{% assign n = 7 %}{% for i in (1..40) %}{% assign n = n | times: n %}"
                       "{% endfor %}"),
}
PROFILE = {"email": "x@example.com", "first_name": "민준",
           "attributes": {"block": "가나다라마바사아자차" * 100}}


def peak_growth(attempt) -> int:
    """Bytes by which the peak resident memory of a forked child grew while it ran
    ``attempt`` once (``VmHWM`` after, less ``VmRSS`` before, from /proc)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        before = _status_kib("VmRSS")
        attempt()
        os.write(write, str((_status_kib("VmHWM") - before) * 1024).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        grown = int(pipe.read() or 0)
    os.waitpid(pid, 0)
    return max(grown, 0)


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--margin", type=float, default=0.5,
                        help="seconds a cut-off render may take past ENVOI_RENDER_SECONDS")
    args = parser.parse_args()
    common.configure("sqlite:///" + common.temp_dir("envoi-bench-limits-") + "/db.sqlite3",
                     common.temp_dir("envoi-bench-limits-data-"))
    common.setup_django()

    from envoi.deliveries import liquid
    from envoi.deliveries.liquid import PersonalizationError
    from envoi.deliveries.models import Delivery
    from envoi.sending.render import DeliveryRenderer

    print(f"# limits: loops {liquid.LOOP_LIMIT}, output {liquid.OUTPUT_LIMIT} chars, "
          f"variables {liquid.VARIABLES_LIMIT} bytes, time {liquid.RENDER_SECONDS} s, "
          f"message {liquid.MESSAGE_SIZE_LIMIT} bytes")
    worst_seconds, worst_peak, failures = 0.0, 0, 0
    for name, template in CASES.items():
        renderer = DeliveryRenderer(Delivery(pk=1, subject="s", sender="a@example.com",
                                             text_body=template + UNSUBSCRIBE))

        def attempt(renderer: DeliveryRenderer = renderer) -> str:
            try:
                renderer.render(1, PROFILE["email"], PROFILE)
            except PersonalizationError as error:
                return str(error)
            return ""

        peak = peak_growth(attempt)
        start = time.perf_counter()
        outcome = attempt()
        seconds = time.perf_counter() - start
        worst_seconds, worst_peak = max(worst_seconds, seconds), max(worst_peak, peak)
        cut_off = bool(outcome) and seconds <= liquid.RENDER_SECONDS + args.margin
        failures += not cut_off
        print(f"# {name}: {seconds * 1000:.0f} ms, peak {peak / 2**20:.1f} MiB: "
              f"{outcome or 'NOT CUT OFF'}")
    verdict = "all cut off" if not failures else f"{failures} NOT cut off in time"
    print(f"envoi-render-limits: {len(CASES)} worst-case templates, {verdict}; slowest "
          f"{worst_seconds * 1000:.0f} ms, peak {worst_peak / 2**20:.1f} MiB "
          f"(limit {liquid.RENDER_SECONDS} s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
