"""The SMS tests' SMSC: smpp34's server side on loopback (tests/support/smsc.py); a test
module that needs it to refuse or fail some numbers defines its own ``smsc``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.smsc import SmscHarness


@pytest.fixture
def smsc() -> Iterator[SmscHarness]:
    server = SmscHarness()
    yield server
    server.stop()
