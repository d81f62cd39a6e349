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
from django.utils.translation import get_language, pgettext
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
    labels = {"email": pgettext("editor", "Email address"), "phone": pgettext("editor", "Phone"),
              "first_name": pgettext("editor", "First name"),
              "last_name": pgettext("editor", "Last name"),
              "language": pgettext("editor", "Language"),
              "timezone": pgettext("editor", "Time zone")}
    fields = [(labels.get(name, name), "{{ " + name + " }}") for name in PROFILE_FIELDS]
    link = ('<a href="{{ unsubscribe_url }}">' + pgettext("editor", "Unsubscribe")
            + "</a>")
    return [*fields, (pgettext("editor", "Unsubscribe link"), link)]


def editor_config(request: HttpRequest) -> dict[str, Any]:
    """Read by the page's script (``json_script``): never executed."""
    return {
        "locale": get_language() or "en",
        "uploadUrl": reverse("web:image_upload"),
        # GrapesJS's icons (Font Awesome 4.7), from here rather than its CDN default.
        "cssIcons": static("web/vendor/font-awesome/css/font-awesome.min.css"),
        "fields": personalization_fields(),
        "texts": {"insertField": pgettext("editor", "Insert a field"),
                  "uploadFailed": pgettext("editor", "The image could not be uploaded."),
                  "emptyLanguage": _("Give a language code such as ko, ja or pt-br."),
                  "duplicateLanguage": _("There is already a variant in this language.")},
        "messages": editor_messages(),
    }


def _block_names() -> dict[str, str]:
    return {
        "body": pgettext("editor", "Body"), "button": pgettext("editor", "Button"),
        "column": pgettext("editor", "Column"), "oneColumn": pgettext("editor", "1 column"),
        "twoColumn": pgettext("editor", "2 columns"),
        "threeColumn": pgettext("editor", "3 columns"),
        "divider": pgettext("editor", "Divider"), "group": pgettext("editor", "Group"),
        "hero": pgettext("editor", "Hero"), "image": pgettext("editor", "Image"),
        "navBar": pgettext("editor", "Navigation bar"),
        "navLink": pgettext("editor", "Navigation link"),
        "section": pgettext("editor", "Section"),
        "socialGroup": pgettext("editor", "Social links"),
        "socialElement": pgettext("editor", "Social link"),
        "spacer": pgettext("editor", "Spacer"), "text": pgettext("editor", "Text"),
        "wrapper": pgettext("editor", "Wrapper"), "raw": pgettext("editor", "Raw HTML"),
    }


def _panel_titles() -> dict[str, str]:
    return {
        "preview": pgettext("editor", "Preview"),
        "fullscreen": pgettext("editor", "Full screen"),
        "sw-visibility": pgettext("editor", "Show outlines"),
        "export-template": pgettext("editor", "View the MJML"),
        "open-sm": pgettext("editor", "Style"), "open-tm": pgettext("editor", "Settings"),
        "open-layers": pgettext("editor", "Layers"), "open-blocks": pgettext("editor", "Blocks"),
    }


def editor_messages() -> dict[str, Any]:
    """GrapesJS's own texts that a marketer meets, in the reader's language (GrapesJS
    keys; the others stay as GrapesJS ships them)."""
    return {
        "assetManager": {
            "addButton": pgettext("editor", "Add image"), "inputPlh": "https://",
            "modalTitle": pgettext("editor", "Choose an image"),
            "uploadTitle": pgettext("editor", "Drop an image here or click to upload it")},
        "styleManager": {"empty": pgettext("editor", "Select an element to change its style.")},
        "traitManager": {
            "empty": pgettext("editor", "Select an element to change its settings."),
            "label": pgettext("editor", "Settings")},
        "panels": {"buttons": {"titles": _panel_titles()}},
        "grapesjs-mjml": {"components": {"names": _block_names()}, "panels": {
            "buttons": {"undo": pgettext("editor", "Undo"), "redo": pgettext("editor", "Redo"),
                        "desktop": pgettext("editor", "Desktop"),
                        "tablet": pgettext("editor", "Tablet"),
                        "mobile": pgettext("editor", "Mobile"),
                        "import": pgettext("editor", "Import MJML")},
            "import": {"title": pgettext("editor", "Import MJML"),
                       "button": pgettext("editor", "Import"), "label": ""},
            "export": {"title": pgettext("editor", "View the MJML")}}},
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
