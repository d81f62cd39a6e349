from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "envoi.ops"
    label = "ops"
    verbose_name = "Operations"
