from django.urls import path

from envoi.ops import console, views

app_name = "ops"

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("metrics", views.metrics, name="metrics"),
    path("workers/", console.workers, name="workers"),
]
