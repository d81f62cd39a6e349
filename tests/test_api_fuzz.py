"""The server never answers 500: schemathesis generates requests for every operation of
the published OpenAPI description (valid, edge-case and invalid data, plus stateful
sequences) against a running ``envoi demo``."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.demo import Demo

pytestmark = pytest.mark.embedded

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


def test_no_operation_answers_a_server_error(demo: Demo):
    command = shutil.which(str(SCHEMATHESIS)) or shutil.which("schemathesis")
    assert command, "schemathesis is a test dependency (pip install -e .[test])"
    result = subprocess.run(
        [command, "run", f"{demo.base}/api/v1/openapi.json",
         "-H", f"Authorization: Bearer {demo.token}",
         "--checks", "not_a_server_error", "--max-examples", "30", "--seed", "20261122",
         # Revoking ids 1, 2, ... would revoke the run's own token: every later call
         # would answer 401. tests/accounts/test_tokens.py covers that operation.
         "--exclude-operation-id", "envoi_api_accounts_revoke_token"],
        capture_output=True, text=True, timeout=300)
    report = result.stdout[-4000:] + result.stderr[-2000:]
    assert result.returncode == 0, report
    assert " passed" in report and "failed" not in report.split("SUMMARY")[-1], report
