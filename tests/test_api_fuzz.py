"""The API keeps its published contract: schemathesis generates requests for every
operation of the OpenAPI description (valid, edge-case and invalid data, plus stateful
sequences) and runs every check on each answer: no server error, every status code and
content type declared, every body matching its declared schema, invalid data refused,
valid data accepted, unsupported methods refused, authentication not ignored.

It runs against the API served on the pass's own database (SQLite and PostgreSQL), with
a real bearer token, and against ``envoi demo`` (the embedded shape under uvicorn)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from envoi.accounts.roles import Role
from envoi.accounts.services import create_token, create_user
from envoi.audiences.models import Profile
from tests.support.deliveries import delivery_in
from tests.support.demo import Demo

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
CONFIG = Path(__file__).with_name("schemathesis.toml")
SEED = "20261205"


def schemathesis(base: str, token: str, config: Path, max_examples: int) -> str:
    """Run every check over the whole API; returns the report, failing on any finding."""
    command = shutil.which(str(SCHEMATHESIS)) or shutil.which("schemathesis")
    assert command, "schemathesis is a test dependency (pip install -e .[test])"
    result = subprocess.run(
        [command, "--config-file", str(config), "run", f"{base}/api/v1/openapi.json",
         "-H", f"Authorization: Bearer {token}", "--checks", "all",
         "--max-examples", str(max_examples), "--seed", SEED, "--workers", "1",
         # Revoking ids 1, 2, ... would revoke the run's own token: every later call
         # would answer 401. tests/accounts/test_tokens.py covers that operation.
         "--exclude-operation-id", "envoi_api_accounts_revoke_token"],
        capture_output=True, text=True, timeout=600)
    report = result.stdout[-6000:] + result.stderr[-2000:]
    assert result.returncode == 0, report
    summary = report.split("SUMMARY")[-1]
    assert " passed" in summary and "failed" not in summary and "error" not in summary, report
    return report


def config_with_objects(tmp_path: Path, **ids: object) -> Path:
    """The shared configuration, with path parameters pinned to objects that exist, so
    the generated requests reach the core and not only its 404."""
    pinned = "\n".join(f'"path.{name}" = {value!r}'.replace("'", '"')
                       for name, value in ids.items())
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG.read_text() + f"\n[parameters]\n{pinned}\n")
    return config


@pytest.mark.django_db(transaction=True)
def test_every_operation_keeps_the_contract(live_server, tmp_path):
    token = create_token(create_user("fuzz", list(Role)))
    delivery = delivery_in("editing")
    profile = Profile.objects.create(email="fuzz@example.com")
    # Only objects the API cannot delete are pinned: a pinned id counts as one the run
    # just created, so a delivery deleted in an earlier phase would read as lost.
    config = config_with_objects(tmp_path, audience_id=delivery.audience_id,
                                 profile_id=profile.pk)
    schemathesis(live_server.url, token, config, max_examples=15)


@pytest.mark.embedded
def test_the_embedded_shape_keeps_the_contract(demo: Demo):
    schemathesis(demo.base, demo.token, CONFIG, max_examples=10)
