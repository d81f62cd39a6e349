from django.apps import AppConfig


class BouncesConfig(AppConfig):
    name = "envoi.bounces"
    label = "bounces"
