"""Single-thread CPU per message of the render → MIME bytes path (no database, no SMTP).

Builds a :class:`~envoi.sending.render.DeliveryRenderer` for the benchmark newsletter
(``content.py``) and renders N messages for distinct rows and profiles, timing only the
loop with ``time.process_time()``: CPU seconds, so the figure holds on a busy machine.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))

import common  # noqa: E402
import content  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--profile", metavar="FILE", help="cProfile the loop into FILE")
    parser.add_argument("--filters", action="store_true",
                        help="write {{ first_name | strip }} for {{ first_name }}: the "
                             "parts then render through Liquid (and its limits)")
    parser.add_argument("--seven-bit", action="store_true",
                        help="also build the 7-bit form (what a relay without 8BITMIME gets)")
    args = parser.parse_args()
    common.configure("sqlite:///" + common.temp_dir("envoi-bench-render-") + "/db.sqlite3",
                     common.temp_dir("envoi-bench-render-data-"))
    common.setup_django()

    from envoi.deliveries.models import Delivery
    from envoi.sending.render import DeliveryRenderer

    def liquid(text: str) -> str:
        return text.replace("{{ first_name }}", "{{ first_name | strip }}") if args.filters \
            else text

    delivery = Delivery(pk=7, subject=liquid(content.SUBJECT), sender=content.SENDER,
                        html_body=liquid(content.html_body()),
                        text_body=liquid(content.text_body()))
    renderer = DeliveryRenderer(delivery)
    profiles = [{"email": f"user{i}@example.com", "first_name": f"민준{i}",
                 "last_name": "김"} for i in range(args.messages)]

    def loop() -> int:
        size = 0
        for row, profile in enumerate(profiles, start=1):
            message = renderer.render(row, profile["email"], profile)
            size += len(message.data if args.seven_bit else message.data_8bit)
        return size

    loop()  # warm caches
    if args.profile:
        import cProfile

        cProfile.runctx("loop()", globals(), locals(), args.profile)
    runs = []
    for _ in range(args.repeat):
        start = time.process_time()
        size = loop()
        runs.append((time.process_time() - start) / args.messages * 1e6)
    print(f"# runs (us/msg): {', '.join(f'{r:.1f}' for r in runs)}")
    form = ("7-bit" if args.seven_bit else "8bit") + (", Liquid filters" if args.filters else "")
    print(f"envoi-render: {min(runs):.1f} us/msg CPU (best of {args.repeat}, "
          f"{args.messages} messages, {form}, {size // args.messages} bytes each)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
