from django.urls import path, re_path

from envoi.tracking import views

# Anything after the prefix, even nothing, reaches the view and its plain "link
# expired" page rather than a 404.
urlpatterns = [
    re_path(r"^o/(?P<token>.*)$", views.open_pixel, name="open-pixel"),
    re_path(r"^c/(?P<token>.*)$", views.click, name="click"),
    re_path(r"^s/(?P<token>.*)$", views.short_click, name="short-link"),
    path("m/proof", views.proof_mirror, name="mirror-proof"),
    re_path(r"^m/(?P<token>.*)$", views.mirror, name="mirror"),
    path("u/proof", views.proof_unsubscribe, name="unsubscribe-proof"),
    path("u/<str:token>", views.unsubscribe, name="unsubscribe"),
]
