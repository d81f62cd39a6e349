"""A bare smpplib client: bind_transceiver, then COUNT submit_sm with WINDOW outstanding,
as fast as the SMSC answers. Prints ``elapsed=SECONDS``.

    python bench/sms/bare_client.py PORT COUNT WINDOW
"""

from __future__ import annotations

import contextlib
import sys
import time

import smpplib.client
import smpplib.exceptions


def main() -> int:
    port, count, window = (int(value) for value in sys.argv[1:4])
    client = smpplib.client.Client("127.0.0.1", port, allow_unknown_opt_params=True)
    client.connect()
    client.bind_transceiver(system_id="bench", password="bench")
    answered = outstanding = sent = 0
    started = time.perf_counter()
    while answered < count:
        while sent < count and outstanding < window:
            client.send_message(source_addr_ton=5, source_addr="Envoi", dest_addr_ton=1,
                                dest_addr_npi=1, destination_addr=f"8210{20000000 + sent}",
                                short_message=b"Hello, reply STOP to opt out",
                                data_coding=0, registered_delivery=1)
            sent += 1
            outstanding += 1
        pdu = client.read_pdu()
        if pdu.command == "submit_sm_resp":
            answered += 1
            outstanding -= 1
    elapsed = time.perf_counter() - started
    print(f"elapsed={elapsed:.3f}", flush=True)
    with contextlib.suppress(smpplib.exceptions.ConnectionError):
        client.unbind()  # the server may close at once instead of answering
    client.disconnect()
    return 0


if __name__ == "__main__":
    sys.exit(main())
