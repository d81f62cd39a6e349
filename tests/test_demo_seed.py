"""The demo's seed and banner (issue 21): the console's address and login are printed,
and a restarted demo seeds its draft again once the previous one is gone or sent, so
the README's walkthrough works every time."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from envoi.audiences.models import Profile
from envoi.deliveries import services
from envoi.deliveries.models import Delivery
from envoi.demo import DEMO_DRAFT, DEMO_PASSWORD, DEMO_USER, banner, seed

pytestmark = pytest.mark.django_db


def drafts() -> list[int]:
    return list(Delivery.objects.filter(label=DEMO_DRAFT, status="editing")
                .values_list("pk", flat=True))


def test_a_restarted_demo_seeds_its_draft_again_when_it_is_gone():
    assert seed()
    profiles = Profile.objects.count()
    (first,) = drafts()
    assert seed() and drafts() == [first]  # still there: not seeded twice
    demo = User.objects.get(username=DEMO_USER)
    services.delete(demo, Delivery.objects.get(pk=first))
    assert seed()
    (second,) = drafts()
    assert second != first
    assert Profile.objects.count() == profiles  # profiles and user are seeded once
    assert User.objects.filter(username=DEMO_USER).count() == 1


def test_the_banner_says_where_the_console_is_and_how_to_sign_in():
    text = banner("http://127.0.0.1:8000", "tok", 3, 2525, "127.0.0.1:2526")
    assert f"Console:  http://127.0.0.1:8000/   (sign in as {DEMO_USER} / {DEMO_PASSWORD})" in text
    assert "Draft:    http://127.0.0.1:8000/deliveries/3/" in text
    assert "http://127.0.0.1:8000/api/v1/deliveries/3" in text
    seed()
    assert Client().login(username=DEMO_USER, password=DEMO_PASSWORD)  # the login works
