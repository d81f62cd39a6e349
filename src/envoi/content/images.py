"""Uploaded images: checked by content, stored behind a small interface, served at
stable public URLs.

An upload is judged by its bytes, never by its name or declared type: the magic bytes
must be those of PNG, JPEG, GIF or WebP, and Pillow must decode its dimensions in
that same format. SVG (which can carry script), a renamed executable, or a file past
``ENVOI_IMAGE_MAX_BYTES`` is refused with a message that says why.

Storage is chosen by ``ENVOI_IMAGE_STORAGE``: ``filesystem`` (the default: files under
``<ENVOI_DATA_DIR>/images``), or ``s3://bucket[/prefix]`` for S3-compatible storage
(:mod:`envoi.content.s3`). Both implement the same three methods (:class:`ImageStorage`),
and either way ``envoi serve`` serves the image at its stable ``/i/…`` URL.
"""

from __future__ import annotations

import hashlib
import io
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from django.conf import settings
from django.utils.translation import gettext as _
from PIL import Image as PillowImage
from PIL import UnidentifiedImageError

from envoi import config
from envoi.accounts.services import Actor, audit, require
from envoi.content.models import Image

DEFAULT_MAX_BYTES = 5 * 1024 * 1024
MAX_PIXELS = 50_000_000  # a decompression bomb is refused before it is decoded


@dataclass(frozen=True)
class Kind:
    extension: str
    content_type: str
    pillow_format: str


KINDS = (
    (b"\x89PNG\r\n\x1a\n", Kind("png", "image/png", "PNG")),
    (b"\xff\xd8\xff", Kind("jpg", "image/jpeg", "JPEG")),
    (b"GIF87a", Kind("gif", "image/gif", "GIF")),
    (b"GIF89a", Kind("gif", "image/gif", "GIF")),
)
CONTENT_TYPES = {"png": "image/png", "jpg": "image/jpeg", "gif": "image/gif",
                 "webp": "image/webp"}


class ImageRefused(ValueError):
    """An upload that is not an image Envoi accepts; the message says why."""


def max_bytes() -> int:
    configured = getattr(settings, "ENVOI_IMAGE_MAX_BYTES", None)
    if configured is None:
        configured = config.env("ENVOI_IMAGE_MAX_BYTES", str(DEFAULT_MAX_BYTES))
    return int(configured)


def sniff(data: bytes) -> Kind | None:
    """The image kind its first bytes announce, or None."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return Kind("webp", "image/webp", "WEBP")
    for magic, kind in KINDS:
        if data.startswith(magic):
            return kind
    return None


def check_image(data: bytes, size: int | None = None) -> tuple[Kind, int, int]:
    """The kind and dimensions of an acceptable image; :class:`ImageRefused` if not.
    ``size``: the whole file's, when only its first ``ENVOI_IMAGE_MAX_BYTES`` + 1
    bytes were read."""
    limit = max_bytes()
    size = max(size or 0, len(data))
    if size > limit:
        raise ImageRefused(_("The file is %(size)s KB; images may be at most %(limit)s KB.")
                           % {"size": -(-size // 1024), "limit": limit // 1024})
    if not data:
        raise ImageRefused(_("The file is empty."))
    kind = sniff(data)
    if kind is None:
        head = data[:256].lstrip().lower()
        if head.startswith(b"<?xml") or b"<svg" in head:
            raise ImageRefused(_("SVG images are not accepted (they can carry scripts, and "
                                 "many mailboxes do not show them): upload a PNG, JPEG, "
                                 "GIF or WebP."))
        raise ImageRefused(_("This file is not a PNG, JPEG, GIF or WebP image, whatever "
                             "its name says."))
    try:
        with PillowImage.open(io.BytesIO(data), formats=[kind.pillow_format]) as image:
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise ImageRefused(_("The image is too large (%(width)s × %(height)s "
                                     "pixels).") % {"width": width, "height": height})
            image.verify()
    except ImageRefused:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as error:
        raise ImageRefused(_("The file starts like a %(kind)s image but cannot be read "
                             "as one.") % {"kind": kind.extension.upper()}) from error
    return kind, width, height


class ImageStorage(Protocol):
    name: str

    def save(self, filename: str, data: bytes) -> None: ...
    def open(self, filename: str) -> bytes | None: ...
    def delete(self, filename: str) -> None: ...


class FilesystemStorage:
    """Files under ``<ENVOI_DATA_DIR>/images``, one per image, named by its id."""

    name = "filesystem"

    def __init__(self, root: Path | None = None):
        self.root = root or config.data_dir() / "images"

    def save(self, filename: str, data: bytes) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        temporary = self.root / f".{filename}.part"
        temporary.write_bytes(data)
        temporary.replace(self.root / filename)  # never a half-written public file

    def open(self, filename: str) -> bytes | None:
        path = self.root / filename
        return path.read_bytes() if path.is_file() else None

    def delete(self, filename: str) -> None:
        (self.root / filename).unlink(missing_ok=True)


STORAGES = {"filesystem": FilesystemStorage}


def storage() -> ImageStorage:
    """The storage new images go to, as ``ENVOI_IMAGE_STORAGE`` says."""
    name = getattr(settings, "ENVOI_IMAGE_STORAGE", None) or config.env(
        "ENVOI_IMAGE_STORAGE", "filesystem")
    if name.startswith("s3://"):
        from envoi.content import s3

        try:
            return s3.from_config(name)
        except s3.StorageConfigError as error:
            raise ImageRefused(str(error)) from error
    if name not in STORAGES:
        raise ImageRefused(f"ENVOI_IMAGE_STORAGE: unknown storage {name!r}; "
                           f"known: {', '.join(STORAGES)} or s3://bucket")
    return STORAGES[name]()


def storage_of(image: Image) -> ImageStorage:
    """Where ``image`` was stored: images kept on disk stay readable after the
    configuration moves new uploads to S3."""
    current = storage()
    if image.storage == current.name:
        return current
    return STORAGES.get(image.storage, FilesystemStorage)()


def public_url(image: Image) -> str:
    return f"{settings.ENVOI_BASE_URL}/i/{image.filename}"


def _user_or_none(user: Actor) -> Any:
    return user if getattr(user, "is_authenticated", False) else None


def upload(user: Actor, data: bytes, original_name: str = "", size: int | None = None
           ) -> Image:
    require(user, "image.upload")
    return store(user, data, original_name, size)


def store(user: Actor, data: bytes, original_name: str = "", size: int | None = None
          ) -> Image:
    """Check and store an image for a caller that checked its own permission (the
    brand's logo needs ``brand.manage``, not ``image.upload``); audited as an upload."""
    kind, width, height = check_image(data, size)
    store = storage()
    image = Image(id=secrets.token_urlsafe(16).replace("-", "a").replace("_", "b"),
                  extension=kind.extension, content_type=kind.content_type,
                  size=len(data), width=width, height=height,
                  sha256=hashlib.sha256(data).hexdigest(),
                  original_name=original_name[:255], storage=store.name,
                  created_by=_user_or_none(user))
    store.save(image.filename, data)
    image.save(force_insert=True)
    audit(user, "image.upload", image_id=image.pk, size=image.size,
          content_type=image.content_type)
    return image
