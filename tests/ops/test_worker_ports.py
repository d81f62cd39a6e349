"""``envoi worker --health-port`` and ``--metrics-port``: a real worker process answers
what ``envoi serve`` answers, and its metrics count what it sent."""

from __future__ import annotations

import pytest

from envoi.accounts.roles import Role
from envoi.accounts.services import create_token, create_user
from envoi.config import data_dir
from envoi.deliveries import services
from envoi.sending.models import SendingLog
from tests.ops.running import envoi_process, get, metric, stop, wait_until
from tests.support.deliveries import boss, prepared_delivery
from tests.support.smtpd import free_port

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_worker_answers_health_readiness_and_metrics(relay):
    health, metrics = free_port(), free_port()
    worker = envoi_process("worker", "--health-port", str(health), "--metrics-port",
                           str(metrics), ENVOI_SMTP_URL=f"smtp://127.0.0.1:{relay.port}")
    try:
        base = f"http://127.0.0.1:{health}"
        wait_until(lambda: get(base + "/healthz")[0] == 200, what="the health port")
        assert get(base + "/healthz") == (200, "ok\n")
        assert get(base + "/readyz") == (200, "ready\n")
        assert get(base + "/metrics")[0] == 404  # metrics are on their own port

        delivery = services.confirm(boss(), prepared_delivery("w", 25))
        wait_until(lambda: not SendingLog.objects.filter(delivery=delivery,
                                                         status="pending").exists(),
                   what="the delivery to be sent")
        status, body = get(f"http://127.0.0.1:{metrics}/metrics")
        assert status == 200
        sent = SendingLog.objects.filter(delivery=delivery, status="sent").count()
        assert sent == 25
        assert metric(body, "envoi_messages_sent_total") == sent
        assert metric(body, "envoi_relay_connections_open") >= 1
        assert metric(body, "envoi_claim_to_send_seconds_count") >= 3  # batches of 10
    finally:
        output = stop(worker)
    assert "Traceback" not in output, output


def test_the_metrics_port_checks_address_and_token(relay):
    port = free_port()
    token = create_token(create_user("ops", [Role.ADMINISTRATION]))
    other = create_token(create_user("prep", [Role.PREPARE_DELIVERIES]))
    worker = envoi_process("worker", "--metrics-port", str(port),
                           ENVOI_SMTP_URL=f"smtp://127.0.0.1:{relay.port}",
                           ENVOI_METRICS_ALLOW="192.0.2.0/24")
    try:
        url = f"http://127.0.0.1:{port}/metrics"
        wait_until(lambda: get(url)[0] == 401, what="the metrics port")
        assert get(url, other)[0] == 401
        status, body = get(url, token)
        assert status == 200 and "envoi_queue_rows" in body
    finally:
        stop(worker)


def test_a_worker_without_its_database_is_alive_but_not_ready():
    port = free_port()
    unreachable = f"postgresql://envoi@127.0.0.1:{free_port()}/envoi"
    worker = envoi_process("worker", "--health-port", str(port),
                           ENVOI_DATABASE_URL=unreachable,
                           ENVOI_SMTP_URL=f"smtp://127.0.0.1:{free_port()}")
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: get(base + "/healthz")[0] == 200, what="the health port")
        status, detail = get(base + "/readyz")
        assert status == 503
        assert detail.startswith("database unreachable: ")
    finally:
        stop(worker)


def test_several_processes_answer_for_all_on_one_port(relay):
    port = free_port()
    worker = envoi_process("worker", "--processes", "2", "--metrics-port", str(port),
                           "--health-port", str(port),
                           ENVOI_SMTP_URL=f"smtp://127.0.0.1:{relay.port}")
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: get(url + "/readyz")[0] == 200, what="the port")
        delivery = services.confirm(boss(), prepared_delivery("pp", 60))
        wait_until(lambda: not SendingLog.objects.filter(delivery=delivery,
                                                         status="pending").exists(),
                   what="the delivery to be sent")
        sent = SendingLog.objects.filter(delivery=delivery, status="sent").count()
        assert sent == 60
        body = get(url + "/metrics")[1]
        assert metric(body, "envoi_messages_sent_total") == sent
        # Both processes write their values where the parent adds them up.
        shared = data_dir() / "metrics" / f"worker-{port}"
        pids = {path.stem.rsplit("_", 1)[1] for path in shared.glob("histogram_*.db")}
        assert len(pids) == 2, pids
    finally:
        output = stop(worker)
    assert "Traceback" not in output, output
