from django.apps import AppConfig


class DeliveriesConfig(AppConfig):
    name = "envoi.deliveries"
    label = "deliveries"
