"""What a marketer authors besides the delivery itself: language variants, templates
and uploaded images."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ContentMode(models.TextChoices):
    HTML = "html"
    MJML = "mjml"
    VISUAL = "visual"  # the visual editor's MJML in mjml_body, its project alongside


class DeliveryVariant(models.Model):
    """A delivery's content in one language; the delivery's own fields are the default.

    ``compiled_html`` and ``compiled_text`` are what is sent: MJML compiled once when
    the content is saved, and a text part generated from the HTML when none is written.
    """

    delivery = models.ForeignKey("deliveries.Delivery", on_delete=models.CASCADE,
                                 related_name="variants")
    language = models.CharField(max_length=16)
    position = models.IntegerField(default=0)
    subject = models.CharField(max_length=998, blank=True, default="")
    preheader = models.CharField(max_length=500, blank=True, default="")
    html_body = models.TextField(blank=True, default="")
    mjml_body = models.TextField(blank=True, default="")
    text_body = models.TextField(blank=True, default="")
    compiled_html = models.TextField(blank=True, default="")
    compiled_text = models.TextField(blank=True, default="")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["delivery", "language"],
                                               name="one_variant_per_language")]
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return f"{self.delivery_id}/{self.language}"


class Template(models.Model):
    """Reusable content: a delivery's authoring fields and variants, without audience,
    schedule or logs."""

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    content_mode = models.CharField(max_length=8, choices=ContentMode.choices,
                                    default=ContentMode.HTML)
    subject = models.CharField(max_length=998, blank=True, default="")
    preheader = models.CharField(max_length=500, blank=True, default="")
    html_body = models.TextField(blank=True, default="")
    mjml_body = models.TextField(blank=True, default="")
    text_body = models.TextField(blank=True, default="")
    visual_project = models.JSONField(default=dict, blank=True)
    variants = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.name


class Image(models.Model):
    """An uploaded image, served at ``/i/<id>.<extension>`` to anyone (it is in emails)."""

    id = models.CharField(primary_key=True, max_length=32)
    extension = models.CharField(max_length=8)
    content_type = models.CharField(max_length=32)
    size = models.IntegerField()
    width = models.IntegerField()
    height = models.IntegerField()
    sha256 = models.CharField(max_length=64, db_index=True)
    original_name = models.CharField(max_length=255, blank=True, default="")
    storage = models.CharField(max_length=16, default="filesystem")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.filename

    @property
    def filename(self) -> str:
        return f"{self.id}.{self.extension}"
