"""Profiles: search, and one profile's history (SPEC §10)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from envoi.audiences.models import Profile
from envoi.consent.erasure import is_erased
from envoi.consent.models import Channel, Purpose
from envoi.consent.notices import notices_of
from envoi.consent.services import consents_of, profile_lists
from envoi.reporting.history import profile_history
from envoi.web import queries
from envoi.web.views.common import get_or_404, requires


@requires("profile.view")
def profile_list(request: HttpRequest) -> HttpResponse:
    search = request.GET.get("q", "").strip()[:320]
    page = queries.page_of(queries.search_profiles(search),
                           queries.page_number(request.GET.get("page")))
    return render(request, "web/profiles.html", {"page": page, "search": search,
                                                 "here": request.get_full_path()})


@requires("profile.view", "logs.view")  # the page is the profile's history (SPEC §10)
def profile_detail(request: HttpRequest, pk: int) -> HttpResponse:
    profile = get_or_404(Profile, pk)
    history = profile_history(request.user, profile)
    labels = {message["delivery_id"]: message["label"] for message in history["messages"]}
    for event in history["events"]:
        event["label"] = labels.get(event["delivery_id"], event["delivery_id"])
    return render(request, "web/profile.html", {
        "profile": profile, "history": history, "consents": consents_of(profile),
        "erased": is_erased(profile), "channels": Channel.choices,
        "purposes": Purpose.values, "notices": notices_of(profile),
        "lists": profile_lists(profile)})
