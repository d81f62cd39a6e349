"""Running Envoi: health and readiness, Prometheus metrics, worker heartbeats and
``envoi check``."""
