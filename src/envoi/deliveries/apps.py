from datetime import timedelta

from django.apps import AppConfig

# Runs of recurring deliveries fire within this long of their time.
SCHEDULER_INTERVAL = timedelta(seconds=5)


class DeliveriesConfig(AppConfig):
    name = "envoi.deliveries"
    label = "deliveries"

    def ready(self) -> None:
        from envoi.deliveries.recurring import fire_due_runs
        from envoi.reporting.jobs import register

        register("recurring_runs", lambda: SCHEDULER_INTERVAL, fire_due_runs)
