from django.urls import include, path

from envoi.api.router import api

urlpatterns = [
    path("api/v1/", api.urls),
    path("", include("envoi.tracking.urls")),
]
