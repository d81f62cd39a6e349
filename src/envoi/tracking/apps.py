from django.apps import AppConfig


class TrackingConfig(AppConfig):
    name = "envoi.tracking"
    label = "tracking"
