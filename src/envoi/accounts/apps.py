from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "envoi.accounts"
    label = "accounts"
