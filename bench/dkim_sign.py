"""CPU of the DKIM signer per message, in one process: RSA-2048 + Ed25519, each alone,
and the relaxed body canonicalization.

    .venv/bin/python bench/dkim_sign.py [--messages 2000]

Two bodies: the 20 KB Korean newsletter of ``bench/send.py``, and a 34 KB HTML body
with 1,800 runs of spaces (the canonicalization's worst case that templates produce).
Times are ``time.process_time()``: the CPU of this process, whatever else runs.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import time
from collections.abc import Callable

import common
import content

HEAD = (
    b"Date: Sat, 05 Dec 2026 21:00:00 +0000\r\n"
    b"From: =?utf-8?b?67SE66ee7J20IOyHvO2VkQ==?= <news@shop.example.com>\r\n"
    b"To: Kim <kim@example.net>\r\n"
    b"Subject: =?utf-8?b?7J2067KI7KO8IOyLoOyDge2SiA==?=\r\n"
    b"Message-ID: <1.2.envoi@bounce.example.com>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"List-Unsubscribe: <https://envoi.example.com/u/abc>\r\n"
    b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
    b"Content-Type: text/html; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: 8bit\r\n\r\n"
)
SPACED = ("<p>  안녕하세요  고객님 </p>\r\n" * 900).encode()


def per_call(call: Callable[[], object], count: int) -> float:
    """Microseconds of CPU per call."""
    started = time.process_time()
    for _ in range(count):
        call()
    return 1e6 * (time.process_time() - started) / count


def signers():
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    from envoi.sending.email.dkim import DkimSigner, SigningKey
    from envoi.sending.email.keys import generate

    rsa = serialization.load_der_private_key(generate("rsa-sha256").private_der, None)
    ed = serialization.load_der_private_key(generate("ed25519-sha256").private_der, None)
    keys = [
        SigningKey("shop.example.com", "b-rsa", "rsa-sha256",
                   lambda data: rsa.sign(data, padding.PKCS1v15(), hashes.SHA256())),
        SigningKey("shop.example.com", "b-ed25519", "ed25519-sha256",
                   lambda data: ed.sign(hashlib.sha256(data).digest())),
    ]
    return {"RSA-2048 + Ed25519": DkimSigner("shop.example.com", keys),
            "RSA-2048 alone": DkimSigner("shop.example.com", keys[:1]),
            "Ed25519 alone": DkimSigner("shop.example.com", keys[1:])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=2000)
    count = parser.parse_args().messages
    data_dir = common.temp_dir("envoi-bench-dkim-")
    common.configure(f"sqlite:///{data_dir}/envoi.sqlite3", data_dir)
    common.setup_django(migrate=False)
    try:
        measure(count)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def measure(count: int) -> None:
    from envoi.sending.email.dkim import relaxed_body

    newsletter = content.html_body().replace("\n", "\r\n").encode()
    print(f"# machine: {common.machine_description()}; load {common.load_average()}")
    for name, body in (("newsletter", newsletter), ("spaced", SPACED)):
        message = HEAD + body
        print(f"{name} ({len(message)} B): relaxed body "
              f"{per_call(lambda body=body: relaxed_body(body), count):.0f} us", end="")
        for label, signer in signers().items():
            cost = per_call(lambda signer=signer, message=message: signer.sign(message), count)
            print(f"; {label} {cost:.0f} us", end="")
        print()


if __name__ == "__main__":
    main()
