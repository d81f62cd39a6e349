"""``envoi worker --health-port`` and ``--metrics-port``: a small HTTP server in a
thread of the worker, answering what ``envoi serve`` answers on the same paths.

Each request runs in its own short thread with its own database connection, closed
when the answer is written: the sending loop's connection is never shared.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from django.db import connection

from envoi.ops import health

log = logging.getLogger("envoi.ops")

Answer = tuple[int, str, bytes]  # status, content type, body
Route = Callable[[BaseHTTPRequestHandler], Answer]

TEXT = "text/plain; charset=utf-8"


def healthz(_request: BaseHTTPRequestHandler) -> Answer:
    return 200, TEXT, b"ok\n"


def readyz(_request: BaseHTTPRequestHandler) -> Answer:
    state = health.readiness()
    return (200 if state.ready else 503), TEXT, (state.detail + "\n").encode()


def metrics(request: BaseHTTPRequestHandler) -> Answer:
    from envoi.ops import metrics as envoi_metrics
    from envoi.ops.access import may_read_metrics

    if not may_read_metrics(request.client_address[0], request.headers.get("Authorization")):
        return 401, TEXT, b"metrics: address not allowed and no administrator token\n"
    return 200, envoi_metrics.CONTENT_TYPE, envoi_metrics.exposition()


HEALTH_ROUTES: dict[str, Route] = {"/healthz": healthz, "/readyz": readyz}
METRICS_ROUTES: dict[str, Route] = {"/metrics": metrics}


class _Handler(BaseHTTPRequestHandler):
    routes: dict[str, Route] = {}

    def do_GET(self) -> None:  # noqa: N802 (the http.server name)
        route = self.routes.get(self.path.split("?", 1)[0])
        try:
            status, content_type, body = (route(self) if route
                                          else (404, TEXT, b"not found\n"))
        except Exception:
            log.exception("%s failed", self.path)
            status, content_type, body = 500, TEXT, b"internal error\n"
        finally:
            connection.close()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass  # probes every few seconds: no access log, as in ``envoi serve``


class Sidecar:
    """One listening port with its routes, served by a daemon thread."""

    def __init__(self, host: str, port: int, routes: dict[str, Route]):
        handler = type("Handler", (_Handler,), {"routes": routes})
        self.server = ThreadingHTTPServer((host, port), handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True,
                                       name=f"envoi-sidecar-{port}")

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def start(self) -> Sidecar:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start_sidecars(host: str, health_port: int | None, metrics_port: int | None
                   ) -> list[Sidecar]:
    """The ports asked for; the same port for both serves both."""
    if health_port and health_port == metrics_port:
        return [Sidecar(host, health_port, HEALTH_ROUTES | METRICS_ROUTES).start()]
    found = []
    if health_port:
        found.append(Sidecar(host, health_port, HEALTH_ROUTES).start())
    if metrics_port:
        found.append(Sidecar(host, metrics_port, METRICS_ROUTES).start())
    return found
