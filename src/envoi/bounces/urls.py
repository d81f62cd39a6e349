from django.urls import path

from envoi.bounces import views

urlpatterns = [
    path("hooks/ses", views.ses, name="hook-ses"),
    path("hooks/sendgrid", views.sendgrid, name="hook-sendgrid"),
    path("hooks/mailgun", views.mailgun, name="hook-mailgun"),
    path("hooks/postmark", views.postmark, name="hook-postmark"),
]
