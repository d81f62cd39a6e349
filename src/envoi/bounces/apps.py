from datetime import timedelta

from django.apps import AppConfig

RELEASE_CHECK_INTERVAL = timedelta(hours=1)


class BouncesConfig(AppConfig):
    name = "envoi.bounces"
    label = "bounces"

    def ready(self) -> None:
        from envoi.bounces.quarantine import release_expired
        from envoi.reporting.jobs import register

        # Erroneous addresses are released 10 (or 30) days after their last error; an
        # hourly check keeps that within the hour without touching the send path.
        register("quarantine_release", lambda: RELEASE_CHECK_INTERVAL, release_expired)
