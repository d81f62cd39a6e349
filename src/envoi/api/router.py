from ninja import NinjaAPI

api = NinjaAPI(title="Envoi API", version="1", urls_namespace="api")
