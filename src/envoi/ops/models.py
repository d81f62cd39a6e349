"""What the operators see of the running workers."""

from __future__ import annotations

from django.db import models


class WorkerHeartbeat(models.Model):
    """One row per running worker, rewritten every few seconds by the worker itself.

    A row whose ``last_seen_at`` is older than the lease (``ENVOI_LEASE_SECONDS``) is a
    lost worker: it died without saying so, and its claimed rows go to others once
    their lease ends. A worker that stops cleanly deletes its row.
    """

    worker_id = models.CharField(max_length=64, unique=True)
    host = models.CharField(max_length=255)
    pid = models.IntegerField()
    version = models.CharField(max_length=32)
    started_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    current_delivery_id = models.BigIntegerField(null=True, blank=True)
    messages_last_minute = models.IntegerField(default=0)
    # Which ENVOI_SECRET_KEY the worker signs with (a digest, never the key): `envoi
    # check` compares them, since links signed with one key fail on hosts with another.
    key_fingerprint = models.CharField(max_length=16, blank=True, default="")

    class Meta:
        ordering = ["host", "pid"]

    def __str__(self) -> str:
        return self.worker_id
