"""Fixtures of the fault-injection suite: the relay the workers send to, and the seed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.fault_runs import REPORTED, seed_from_env
from tests.support.faulty_smtpd import FaultySmtpServer


@pytest.fixture
def sink() -> Iterator[FaultySmtpServer]:
    """A relay that accepts everything and counts copies per recipient."""
    with FaultySmtpServer() as server:
        yield server


@pytest.fixture
def seed(request) -> int:
    """The run's random seed, printed first so that a failure can be replayed."""
    value = seed_from_env()
    print(f"\nfaults[{request.node.name}]: seed {value} (replay: ENVOI_FAULTS_SEED={value})")
    return value


def pytest_terminal_summary(terminalreporter) -> None:
    """The figures of every scenario that ran, shown even when output is captured."""
    if REPORTED:
        terminalreporter.write_sep("-", "fault-injection figures")
        for line in REPORTED:
            terminalreporter.write_line(line)
