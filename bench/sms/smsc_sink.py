"""A local SMSC that answers every submit_sm at once: the SMPP server of the smpp34
library (its Rust core does the framing). It prints ``ready`` once it listens,
then ``count=N`` whenever the count changed in the last 0.1 s.

    python bench/sms/smsc_sink.py PORT [--receipts]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import sys

import smpp34


async def serve(port: int, receipts: bool) -> None:
    server = smpp34.Server("127.0.0.1", port, system_id="BENCH")
    await server.start()
    print("ready", flush=True)
    ids = itertools.count(1)
    count = 0
    sessions: dict[str, smpp34.Esme] = {}

    async def report() -> None:
        reported = -1
        while True:
            if count != reported:
                reported = count
                print(f"count={count}", flush=True)
            await asyncio.sleep(0.1)

    asyncio.ensure_future(report())
    while True:
        event = await server.next()
        if isinstance(event, smpp34.Esme):
            sessions[event.session_id] = event
        elif isinstance(event, smpp34.SubmitSmEvent):
            message_id = f"b{next(ids)}"
            event.accept(message_id)
            count += 1
            if receipts and event.session_id in sessions:
                text = f"id:{message_id} sub:001 dlvrd:001 stat:DELIVRD err:000 text:".encode()
                asyncio.ensure_future(sessions[event.session_id].deliver_sm(
                    event.source_addr, text, source_addr=event.destination_addr,
                    esm_class=0x04))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("--receipts", action="store_true")
    args = parser.parse_args()
    asyncio.run(serve(args.port, args.receipts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
