from django.apps import AppConfig


class ConsentConfig(AppConfig):
    name = "envoi.consent"
    label = "consent"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from envoi.consent import hashing

        connection_created.connect(hashing.register_sqlite_function)
