from datetime import timedelta

from django.apps import AppConfig

# A new tracking-log partition opens on the first check of each UTC day (PostgreSQL).
PARTITION_CHECK_INTERVAL = timedelta(minutes=10)


class TrackingConfig(AppConfig):
    name = "envoi.tracking"
    label = "tracking"

    def ready(self) -> None:
        from envoi.reporting.jobs import register
        from envoi.tracking.partitions import rotate

        register("event_partitions", lambda: PARTITION_CHECK_INTERVAL, rotate)
