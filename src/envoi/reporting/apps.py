from django.apps import AppConfig


class ReportingConfig(AppConfig):
    name = "envoi.reporting"
    label = "reporting"

    def ready(self) -> None:
        from envoi.reporting.jobs import register_builtin_jobs

        register_builtin_jobs()
