"""What the visual editor (GrapesJS with its MJML plugin) needs from the console: its
settings and texts in the reader's language, the page's Content-Security-Policy, and
the image upload behind its asset manager.

The upload is the API's (``POST /api/v1/images``) for a signed-in user: the same
service function, the same ``image.upload`` permission, with the session and its CSRF
token instead of an API token. It answers JSON, as the editor reads it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, JsonResponse
from django.templatetags.static import static
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from envoi.accounts.services import PermissionDenied, require
from envoi.content import images
from envoi.deliveries.content import PROFILE_FIELDS
from envoi.web.errors import denial
from envoi.web.middleware import CONSOLE_POLICY


def editor_policy() -> str:
    """The console's policy, with what the editor's canvas needs and nothing else:
    GrapesJS styles its canvas (a frame of this page) with ``<style>`` elements it
    writes, and the canvas shows uploaded images at their public address."""
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(settings.ENVOI_BASE_URL))
    rules = {"style-src": "style-src 'self' 'unsafe-inline'",
             "img-src": f"img-src 'self' data: {origin}"}
    return "; ".join(rules.get(rule.split()[0], rule) for rule in CONSOLE_POLICY.split("; "))


def personalization_fields() -> list[tuple[str, str]]:
    """What the editor's "Insert a field" list offers: the profile's fields, and the
    unsubscribe link every marketing email needs."""
    labels = {"email": _("Email address"), "phone": _("Phone"),
              "first_name": _("First name"), "last_name": _("Last name"),
              "language": _("Language"), "timezone": _("Time zone")}
    fields = [(labels.get(name, name), "{{ %s }}" % name) for name in PROFILE_FIELDS]
    link = '<a href="{{ unsubscribe_url }}">%s</a>' % _("Unsubscribe")
    return [*fields, (_("Unsubscribe link"), link)]


def editor_config(request: HttpRequest) -> dict[str, Any]:
    """Read by the page's script (``json_script``): never executed."""
    return {
        "locale": get_language() or "en",
        "uploadUrl": reverse("web:image_upload"),
        # GrapesJS's icons (Font Awesome 4.7), from here rather than its CDN default.
        "cssIcons": static("web/vendor/font-awesome/css/font-awesome.min.css"),
        "fields": personalization_fields(),
        "texts": {"insertField": _("Insert a field"),
                  "uploadFailed": _("The image could not be uploaded."),
                  "emptyLanguage": _("Give a language code such as ko, ja or pt-br."),
                  "duplicateLanguage": _("There is already a variant in this language.")},
        "messages": editor_messages(),
    }


def editor_messages() -> dict[str, Any]:
    """GrapesJS's own texts that a marketer meets, in the reader's language (GrapesJS
    keys; the others stay as GrapesJS ships them)."""
    names = {"body": _("Body"), "button": _("Button"), "column": _("Column"),
             "oneColumn": _("1 column"), "twoColumn": _("2 columns"),
             "threeColumn": _("3 columns"), "divider": _("Divider"), "group": _("Group"),
             "hero": _("Hero"), "image": _("Image"), "navBar": _("Navigation bar"),
             "navLink": _("Navigation link"), "section": _("Section"),
             "socialGroup": _("Social links"), "socialElement": _("Social link"),
             "spacer": _("Spacer"), "text": _("Text"), "wrapper": _("Wrapper"),
             "raw": _("Raw HTML")}
    return {
        "assetManager": {"addButton": _("Add image"), "inputPlh": "https://",
                         "modalTitle": _("Choose an image"),
                         "uploadTitle": _("Drop an image here or click to upload it")},
        "blockManager": {"labels": {}, "categories": {}},
        "styleManager": {"empty": _("Select an element to change its style.")},
        "traitManager": {"empty": _("Select an element to change its settings."),
                         "label": _("Settings")},
        "panels": {"buttons": {"titles": {
            "preview": _("Preview"), "fullscreen": _("Full screen"),
            "sw-visibility": _("Show outlines"), "export-template": _("View the MJML"),
            "open-sm": _("Style"), "open-tm": _("Settings"), "open-layers": _("Layers"),
            "open-blocks": _("Blocks")}}},
        "grapesjs-mjml": {"components": {"names": names}, "panels": {
            "buttons": {"undo": _("Undo"), "redo": _("Redo"), "desktop": _("Desktop"),
                        "tablet": _("Tablet"), "mobile": _("Mobile"),
                        "import": _("Import MJML")},
            "import": {"title": _("Import MJML"), "button": _("Import"), "label": ""},
            "export": {"title": _("View the MJML")}}},
    }


@require_POST
@login_required
def image_upload(request: HttpRequest) -> JsonResponse:
    """The editor's asset manager uploads here (multipart field ``file``): ``{id, url}``,
    or ``{error}`` in the reader's language (400, 403)."""
    try:
        require(request.user, "image.upload")
    except PermissionDenied as error:
        return JsonResponse({"error": denial(error.action)}, status=403)
    upload = request.FILES.get("file")
    if upload is None:
        return JsonResponse({"error": _("Choose an image to upload.")}, status=400)
    limit = images.max_bytes()
    try:
        image = images.upload(request.user, upload.read(limit + 1), upload.name or "",
                              upload.size)
    except images.ImageRefused as refused:
        return JsonResponse({"error": str(refused)}, status=400)
    return JsonResponse({"id": image.pk, "url": images.public_url(image)})
