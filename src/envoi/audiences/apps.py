from django.apps import AppConfig


class AudiencesConfig(AppConfig):
    name = "envoi.audiences"
    label = "audiences"
