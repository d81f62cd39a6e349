from django.apps import AppConfig


class SendingConfig(AppConfig):
    name = "envoi.sending"
    label = "sending"
