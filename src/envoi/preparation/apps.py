from django.apps import AppConfig


class PreparationConfig(AppConfig):
    name = "envoi.preparation"
    label = "preparation"
