from django.urls import path

from envoi.consent import views

# Beside tracking's pages (/u/, /m/, …): short paths, no login.
urlpatterns = [
    path("subscribe", views.subscribe, name="subscribe"),
    path("subscribe/embedded", views.subscribe_embedded, name="subscribe-embedded"),
    path("subscribe/confirm/<str:token>", views.confirm, name="subscribe-confirm"),
    path("p/proof", views.proof_preferences, name="preferences-proof"),
    path("p/<str:token>", views.preference_centre, name="preferences"),
]
