from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "envoi.ops"
    label = "ops"
    verbose_name = "Operations"

    def ready(self) -> None:
        from envoi.ops.retention import INTERVAL, run_retention
        from envoi.reporting.jobs import register

        register("retention", lambda: INTERVAL, run_retention)
