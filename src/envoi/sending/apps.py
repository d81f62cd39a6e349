from datetime import timedelta

from django.apps import AppConfig

# A new sending-log partition opens on the first check of each UTC month (PostgreSQL).
PARTITION_CHECK_INTERVAL = timedelta(minutes=10)


class SendingConfig(AppConfig):
    name = "envoi.sending"
    label = "sending"

    def ready(self) -> None:
        from envoi.reporting.jobs import register
        from envoi.sending.partitions import rotate

        register("sending_partitions", lambda: PARTITION_CHECK_INTERVAL, rotate)
