from django.apps import AppConfig


class ContentConfig(AppConfig):
    name = "envoi.content"
    label = "content"
