"""``envoi serve --workers 2``: each process counts into one multiprocess directory, and
whichever answers ``/metrics`` answers for both."""

from __future__ import annotations

import pytest

from envoi.accounts.roles import Role
from envoi.accounts.services import create_token, create_user
from envoi.config import data_dir
from tests.ops.running import envoi_process, get, stop, wait_until
from tests.support.smtpd import free_port

pytestmark = pytest.mark.django_db(transaction=True)


def test_serve_with_several_processes():
    port = free_port()
    token = create_token(create_user("ops", [Role.ADMINISTRATION]))
    server = envoi_process("serve", "--workers", "2", "--port", str(port),
                           ENVOI_METRICS_ALLOW="192.0.2.0/24")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: get(base + "/healthz")[0] == 200, timeout=60, what="envoi serve")
        assert get(base + "/readyz") == (200, "ready\n")
        assert get(base + "/metrics")[0] == 401  # loopback is not in the list given
        status, body = get(base + "/metrics", token)
        assert status == 200
        assert "# TYPE envoi_claim_to_send_seconds histogram" in body
        assert 'envoi_queue_rows{state="due"}' in body
        shared = data_dir() / "metrics" / f"serve-{port}"
        wait_until(lambda: len({p.stem.rsplit("_", 1)[1]
                                for p in shared.glob("histogram_*.db")}) == 2,
                   what="both processes' metric files")
    finally:
        output = stop(server)
    assert "Traceback" not in output, output


def test_behind_a_proxy_the_clients_own_address_counts():
    """uvicorn takes the client's address from X-Forwarded-For when the request comes
    from the proxy on loopback: a proxy on this host does not open /metrics to all."""
    import urllib.error
    import urllib.request

    port = free_port()
    server = envoi_process("serve", "--port", str(port))
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: get(base + "/healthz")[0] == 200, timeout=60, what="envoi serve")
        assert get(base + "/metrics")[0] == 200  # loopback itself
        request = urllib.request.Request(base + "/metrics",
                                         headers={"X-Forwarded-For": "203.0.113.9"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == 401
    finally:
        stop(server)
