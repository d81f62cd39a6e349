"""Uploaded images in S3-compatible storage (AWS S3, MinIO, Ceph, Garage…).

Chosen with ``ENVOI_IMAGE_STORAGE=s3://bucket`` or ``s3://bucket/prefix``. The endpoint
of a service other than AWS is ``ENVOI_S3_ENDPOINT_URL``; credentials and region are
boto3's own: ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_DEFAULT_REGION``
(or a profile, or an instance role). The bucket must exist; it need not be public:
``envoi serve`` reads each image from it and serves it at its stable ``/i/…`` URL, with
the same year-long cache headers as images kept on disk.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from envoi import config

CACHE_CONTROL = "public, max-age=31536000, immutable"
CONTENT_TYPES = {"png": "image/png", "jpg": "image/jpeg", "gif": "image/gif",
                 "webp": "image/webp"}


class StorageConfigError(ValueError):
    """``ENVOI_IMAGE_STORAGE`` names no bucket it can use."""


class S3Storage:
    """One object per image, ``<prefix>/<id>.<extension>``, in one bucket."""

    name = "s3"

    def __init__(self, url: str, endpoint_url: str | None = None,
                 client: Any | None = None):
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise StorageConfigError(
                f"ENVOI_IMAGE_STORAGE: {url!r} is not s3://bucket or s3://bucket/prefix")
        self.bucket = parts.netloc
        self.prefix = parts.path.strip("/")
        self.client = client or _client(endpoint_url)

    def key(self, filename: str) -> str:
        return f"{self.prefix}/{filename}" if self.prefix else filename

    def save(self, filename: str, data: bytes) -> None:
        extension = filename.rsplit(".", 1)[-1]
        self.client.put_object(Bucket=self.bucket, Key=self.key(filename), Body=data,
                               ContentType=CONTENT_TYPES.get(extension,
                                                             "application/octet-stream"),
                               CacheControl=CACHE_CONTROL)

    def open(self, filename: str) -> bytes | None:
        from botocore.exceptions import ClientError

        try:
            found = self.client.get_object(Bucket=self.bucket, Key=self.key(filename))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise
        return bytes(found["Body"].read())

    def delete(self, filename: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.key(filename))


@lru_cache(maxsize=4)
def _client(endpoint_url: str | None) -> Any:
    """One client per endpoint and process: boto3 clients are thread-safe, and making
    one reads the credentials chain (costly per request)."""
    import boto3

    return boto3.client("s3", endpoint_url=endpoint_url or None)


def from_config(url: str) -> S3Storage:
    return S3Storage(url, config.env("ENVOI_S3_ENDPOINT_URL", "") or None)
