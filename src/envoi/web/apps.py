from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "envoi.web"
    label = "web"
