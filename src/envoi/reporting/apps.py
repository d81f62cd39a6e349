from django.apps import AppConfig


class ReportingConfig(AppConfig):
    name = "envoi.reporting"
    label = "reporting"
