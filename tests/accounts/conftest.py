"""Account tests check passwords hundreds of times: a fast hasher keeps them quick (the
hasher is Django's, not what they test; the cross-process test's children use the
configured one)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
