from django.apps import AppConfig


class ConsentConfig(AppConfig):
    name = "envoi.consent"
    label = "consent"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from envoi.consent import hashing, notices
        from envoi.reporting.jobs import register

        connection_created.connect(hashing.register_sqlite_function)
        register("consent_notices", lambda: notices.INTERVAL, notices.run)
