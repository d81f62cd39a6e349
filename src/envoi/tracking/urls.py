from django.urls import path

from envoi.tracking import views

urlpatterns = [
    path("u/proof", views.proof_unsubscribe, name="unsubscribe-proof"),
    path("u/<str:token>", views.unsubscribe, name="unsubscribe"),
]
