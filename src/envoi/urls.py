from django.urls import include, path

from envoi.api.router import api

urlpatterns = [
    path("api/v1/", api.urls),
    path("", include("envoi.ops.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("envoi.tracking.urls")),
    path("", include("envoi.consent.urls")),
    path("", include("envoi.content.urls")),
    path("", include("envoi.bounces.urls")),
    path("", include("envoi.web.urls")),
]
