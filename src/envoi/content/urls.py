from django.urls import re_path

from envoi.content import views

urlpatterns = [
    re_path(r"^i/(?P<image_id>[A-Za-z0-9]{1,32})\.(?P<extension>png|jpg|gif|webp)$",
            views.image, name="image"),
]
