"""Every console URL, walked as every role, as a user with no role and as a signed-out
visitor, against the role table (``envoi.accounts.roles.ACTION_ROLES``).

What the table allows answers the page (200) or does the action (302). What it refuses
answers 403 with a page that says what was refused, and the refusal is audited as the
API audits it: one entry, the action refused, against the delivery when the URL names
one. A signed-out visitor is sent to
sign in. Both methods are walked on every URL: a view that takes only POST refuses GET
(405) whoever asks, and a form page checks its POST as the API twin of the change does.

The URLs come from the console's resolver, so a new page cannot escape the walk: it
fails until the page has a row in :data:`PAGES`. Each request runs in a savepoint that
is rolled back, so every request meets the same objects.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import translation

from envoi.accounts import tokens
from envoi.accounts.models import ApiToken, AuditEntry
from envoi.accounts.roles import ACTION_ROLES, Role
from envoi.accounts.services import create_user
from envoi.audiences import jobs
from envoi.audiences.models import Audience, ImportJob, Profile
from envoi.bounces.models import Quarantine
from envoi.content.models import Template
from envoi.deliveries.models import Delivery
from envoi.reporting import exports
from envoi.sending.models import OutboxMessage, SendingDomain
from envoi.web.errors import denial
from envoi.web.views import dashboard
from tests.content.test_images import picture
from tests.support.deliveries import delivery_in, seeded_audience
from tests.support.scenario import HTML, TEXT
from tests.web.schedules import recurring_in

pytestmark = pytest.mark.django_db

@pytest.fixture(autouse=True)
def _uploads_in_a_temporary_directory(tmp_path, monkeypatch):
    """The walk uploads images (the editor's upload): not into the working tree."""
    monkeypatch.setenv("ENVOI_DATA_DIR", str(tmp_path))


PUBLIC = "public"  # sign-in, sign-out and the home page's redirect: no role needed
Rule = str | tuple[str, ...]  # PUBLIC, or the actions a request needs, all of them


def both(*actions: str) -> dict[str, Rule]:
    """A page that answers GET and POST under the same actions."""
    return {"GET": actions, "POST": actions}


def post_only(*actions: str) -> dict[str, Rule]:
    return {"POST": actions}


# URL name -> method -> what the request needs. A method left out is refused (405).
PAGES: dict[str, dict[str, Rule]] = {
    "home": {"GET": PUBLIC, "POST": PUBLIC},
    "login": {"GET": PUBLIC, "POST": PUBLIC},
    "logout": {"POST": PUBLIC},
    "deliveries": both("delivery.view"),
    "delivery_create": both("delivery.create"),
    "delivery": both("delivery.view"),
    "delivery_edit": both("delivery.edit"),
    "image_upload": post_only("image.upload"),  # the visual editor's uploads
    "delivery_delete": post_only("delivery.delete"),
    "delivery_market_fix": post_only("delivery.edit"),
    "delivery_live": both("delivery.view"),
    "delivery_charts": both("delivery.view"),
    "delivery_compute_stats": post_only("delivery.view"),
    "delivery_log": both("logs.view"),
    "delivery_action": post_only(),  # the action's own permission: ACTION_PERMISSIONS
    "delivery_executions": both("delivery.view"),
    "delivery_request_confirmation": post_only("delivery.edit"),
    "profiles": both("profile.view"),
    # One profile's page is its history (SPEC §10), which the API guards with logs.view.
    "profile": both("profile.view", "logs.view"),
    "audiences": both("delivery.view"),
    "audience_create": both("audience.edit"),
    "audience_check": both("audience.edit"),
    # Reading a saved audience is the API's GET /audiences/{id}; saving it is an edit.
    "audience": {"GET": ("delivery.view",), "POST": ("audience.edit",)},
    "audience_count": both("delivery.view"),
    "audience_delete": post_only("audience.edit"),
    "users": both("users.manage"),
    "user_roles": both("users.manage"),
    "audit": both("users.manage"),
    "quarantine": both("quarantine.view"),
    "quarantine_address": both("quarantine.view"),
    "quarantine_release": post_only("quarantine.manage"),
    "sending_domains": {"GET": ("sending_domain.view",),
                        "POST": ("sending_domain.view", "sending_domain.manage")},
    "sending_domain": {"GET": ("sending_domain.view",)},
    "sending_domain_check": post_only("sending_domain.view"),
    "sending_domain_dkim": post_only("sending_domain.manage"),
    "sending_domain_retire": post_only("sending_domain.manage"),
    "outbox": both("outbox.view"),
    "outbox_message": both("outbox.view"),
    "outbox_body": both("outbox.view"),
    "outbox_raw": both("outbox.view"),
    "outbox_sms_stop": post_only("outbox.view"),
    # Anyone signed in keeps their own tokens; another user's need token.manage.
    "tokens": both(),
    "token_revoke": {"GET": (), "POST": ("token.manage",)},  # GET goes back to the list
    "user_account": both("users.manage"),
    "user_deactivate": both("users.manage"),
    "user_reactivate": both("users.manage"),
    "user_reset_link": both("users.manage"),
    # The link itself is the credential: an invalid one gets a page saying so.
    "password_reset": {"GET": PUBLIC, "POST": PUBLIC},
    "workers": both("workers.view"),
    # Reviewing content (envoi.content): the preview is the API's preview, a read.
    "delivery_preview": {"GET": ("delivery.view",)},
    "delivery_preview_body": {"GET": ("delivery.view",)},
    "delivery_proof": both("delivery.proof"),
    "delivery_duplicate": post_only("delivery.create", "delivery.view"),
    "delivery_save_template": post_only("template.edit", "delivery.view"),
    "templates": {"GET": ("template.view",)},
    "template_delivery_create": post_only("template.view", "delivery.create"),
    "template_edit": both("template.edit"),
    "template_delete": post_only("template.edit"),
    "profile_test": post_only("profile.mark_test"),
    "import_start": both("profile.import"),
    "import_job": both("profile.import"),
    "import_progress": both("profile.import"),
    "import_rejected": both("profile.import"),
    "export_profiles": both("profile.export"),
    "delivery_export": both("logs.export"),
    "profile_edit": both("profile.edit"),
    "profile_consent": post_only("consent.record"),
    "profile_erase": post_only("consent.erase"),
    "profile_export": {"GET": ("consent.export",)},
    "subscription_form": both("audience.edit"),
    "consent_notices": {"GET": ("logs.view",)},
    "brand": both("brand.manage"),
    "brand_reset": post_only("brand.manage"),
    "brand_preview": {"GET": ("brand.manage",)},
}

# The dashboard's actions and the permission each needs: the API's endpoint for it
# calls the same service, which requires the same action.
ACTION_PERMISSIONS = {
    "prepare": "delivery.prepare", "proof": "delivery.proof",
    "approve": "delivery.approve", "reject": "delivery.reject",
    "confirm": "delivery.confirm", "activate": "delivery.activate",
    "withdraw_confirmation": "delivery.confirm", "pause": "delivery.pause",
    "resume": "delivery.resume", "stop": "delivery.stop",
    # A scheduled send is moved or taken back by whoever may confirm it; archiving is
    # what replaces deleting for a delivery that has sent.
    "reschedule": "delivery.confirm", "cancel_schedule": "delivery.confirm",
    "archive": "delivery.delete", "unarchive": "delivery.delete",
}


# Console pages that live in their own app's namespace (the rest of that namespace is
# for machines: health, readiness, metrics).
OTHER_CONSOLE_PAGES = {"workers": "ops"}


def namespace_of(name: str) -> str:
    return OTHER_CONSOLE_PAGES.get(name, "web")


def console_urls() -> dict[str, URLPattern]:
    """Every URL of the console's namespace, by name, as the site's resolver holds it."""
    found: dict[str, URLPattern] = {}

    def walk(patterns: list, namespace: str | None) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, pattern.namespace or namespace)
            elif isinstance(pattern, URLPattern) and pattern.name and namespace and (
                    namespace_of(pattern.name) == namespace):
                found[pattern.name] = pattern

    walk(get_resolver().url_patterns, None)
    return found


@dataclass
class World:
    """One object of every kind a console URL names."""

    delivery: Delivery
    recurring: Delivery
    audience: Audience
    profile: Profile
    quarantined: Quarantine
    message: OutboxMessage
    sending_domain: SendingDomain
    account: User
    token: ApiToken
    template: Template
    import_job: ImportJob


def build_world() -> World:
    delivery = delivery_in("editing", label="Walked")
    account = create_user("someone", [Role.IMPORT.value])
    return World(
        delivery=delivery,
        recurring=recurring_in("editing", label="Walked daily"),
        audience=seeded_audience(),
        profile=Profile.objects.exclude(email="").order_by("pk").first(),
        quarantined=Quarantine.objects.order_by("pk").first(),
        message=OutboxMessage.objects.create(
            mail_from="a@x.test", rcpt_to=["b@x.test"], subject="Hi",
            data=b"Subject: Hi\r\nContent-Type: text/plain\r\n\r\nHello\r\n"),
        sending_domain=SendingDomain.objects.create(domain="walked.example"),
        account=account,
        token=tokens.create(account, account, "walked", None)[0],
        template=Template.objects.create(name="Walked template", subject="Hi",
                                         html_body=HTML, text_body=TEXT),
        import_job=walked_import(),
    )


def walked_import() -> ImportJob:
    path = jobs.upload_dir() / "walked.csv"
    path.write_text("email,first_name\nwalked@example.com,Walker\n")
    return ImportJob.objects.create(file_name="walked.csv", path=str(path), total_rows=1)


@dataclass(frozen=True)
class Visit:
    """One request of the walk."""

    name: str
    method: str
    path: str
    data: dict[str, Any]
    rule: Rule | None  # None: the method is refused (405)
    delivery_id: int | None  # the delivery a refusal is audited against


def delivery_form(world: World, label: str) -> dict[str, Any]:
    return {"label": label, "sender": "Shop <news@shop.example.com>", "subject": "Hi",
            "audience": world.audience.pk, "html_body": HTML, "text_body": TEXT,
            "is_marketing": "on", "approval_required": "on"}


# What a form page is given when POSTed: a valid submission, so that an allowed user's
# change goes through (302) and a refused user's is refused before it is read.
FORMS: dict[str, Callable[[World], dict[str, Any]]] = {
    "delivery_create": lambda world: delivery_form(world, "Created on the walk"),
    "delivery_edit": lambda world: delivery_form(world, "Edited on the walk"),
    "audience_create": lambda world: {"name": "Walked", "filter": 'language = "ko"'},
    "audience": lambda world: {"name": "Renamed", "filter": 'language = "ja"'},
    "audience_check": lambda world: {"filter": 'language = "ko"'},
    "users": lambda world: {"username": "walked", "password": "long enough pw"},
    "user_roles": lambda world: {"roles": [Role.EXPORT.value]},
    "quarantine_release": lambda world: {"note": "checked"},
    "image_upload": lambda world: {"file": SimpleUploadedFile("dot.png", picture("PNG"))},
    "import_job": lambda world: {"mode": "not a mode"},  # shown again, not started
    "sending_domains": lambda world: {"domain": "added.example"},
    "sending_domain_dkim": lambda world: {"selector": "walk"},
}


def arguments(name: str, world: World) -> list[dict[str, Any]]:
    """The URL's parameters, filled with real objects (each variant of a slug)."""
    delivery = {"pk": world.delivery.pk}
    if name == "delivery_log":
        return [{**delivery, "tab": tab} for tab in dashboard.TABS]
    if name == "delivery_action":
        return [{**delivery, "name": action} for action in ACTION_PERMISSIONS]
    if name in ("delivery_executions", "delivery_request_confirmation"):
        return [{"pk": world.recurring.pk}]
    if name == "delivery_export":
        return [{**delivery, "log": log} for log in exports.LOGS]
    if name.startswith("import_") and name != "import_start":
        return [{"pk": world.import_job.pk}]
    if name == "password_reset":
        return [{"uidb64": "MQ", "token": "not-a-valid-token"}]
    objects = {"delivery": world.delivery, "profile": world.profile,
               "audience": world.audience, "user": world.account,
               "quarantine": world.quarantined, "outbox": world.message,
               "token": world.token, "template": world.template,
               "sending_domain": world.sending_domain}
    keys = console_urls()[name].pattern.converters.keys()
    if not keys:
        return [{}]
    owner = next((obj for prefix, obj in objects.items() if name.startswith(prefix)), None)
    assert set(keys) == {"pk"} and owner is not None, (
        f"fill the parameters of the console URL {name!r} in arguments()")
    return [{"pk": owner.pk}]


def visits(world: World) -> Iterator[Visit]:
    for name in console_urls():
        for kwargs in arguments(name, world):
            path = reverse(f"{namespace_of(name)}:{name}", kwargs=kwargs)
            names_delivery = name.startswith("delivery_") or name == "delivery"
            delivery_id = kwargs.get("pk") if names_delivery else None
            for method in ("GET", "POST"):
                rule = PAGES[name].get(method)
                if name == "delivery_action" and rule is not None:
                    rule = (ACTION_PERMISSIONS[kwargs["name"]],)
                data = FORMS[name](world) if method == "POST" and name in FORMS else {}
                yield Visit(name, method, path, data, rule, delivery_id)


def allowed(roles: set[Role], actions: tuple[str, ...]) -> bool:
    """What the role table says: each action needs one of the roles it lists."""
    return all(roles & ACTION_ROLES[action] for action in actions)


def client_for(user: User | None) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    if user is not None:
        client.force_login(user)
    return client


def mismatch(visit: Visit, user: User | None, roles: set[Role]) -> str | None:
    """What went wrong with one request, or None when it matched the table."""
    refusals_before = AuditEntry.objects.filter(allowed=False).count()
    client = client_for(user)
    call = client.get if visit.method == "GET" else client.post
    response = call(visit.path, visit.data)
    status = response.status_code
    location = response.get("Location", "")
    refusals = list(AuditEntry.objects.filter(allowed=False).order_by("id")
                    .values_list("action", "actor_id", "delivery_id")[refusals_before:])
    where = f"{visit.method} {visit.path}"
    if visit.rule is None:
        return None if status == 405 else f"{where}: {status}, expected 405"
    if visit.rule == PUBLIC:
        return None if status in (200, 302) and not refusals else \
            f"{where}: {status} {refusals}, expected a public page"
    actions = tuple(visit.rule)
    if user is None:
        if status == 302 and location.startswith(reverse("web:login") + "?next="):
            return None
        return f"{where}: {status} {location}, expected the way to sign in"
    if allowed(roles, actions):
        if status in (200, 302) and not refusals and not location.startswith("/login/"):
            return None
        return f"{where}: {status} {refusals}, expected the page (allowed: {actions})"
    refused = next(action for action in actions if not roles & ACTION_ROLES[action])
    expected = [(refused, user.pk, visit.delivery_id)]
    with translation.override("en"):
        says_why = denial(refused) in response.content.decode()
    if status == 403 and refusals == expected and says_why:
        return None
    return (f"{where}: {status}, audited {refusals}, saying why: {says_why}; expected 403 "
            f"audited {expected}")


def walk(user: User | None, roles: set[Role]) -> list[str]:
    world = build_world()
    found = []
    for visit in visits(world):
        with transaction.atomic():  # every request meets the same objects
            problem = mismatch(visit, user, roles)
            transaction.set_rollback(True)
        if problem:
            found.append(problem)
    return found


def test_every_console_url_has_a_row_in_the_table():
    assert set(console_urls()) == set(PAGES), "give each console URL its row in PAGES"
    assert set(ACTION_PERMISSIONS) == set(dashboard.CALLS)
    for rule in PAGES.values():
        for needed in rule.values():
            assert needed == PUBLIC or set(needed) <= set(ACTION_ROLES)


@pytest.mark.parametrize("role", list(Role), ids=[role.value for role in Role])
def test_each_role_gets_what_the_table_gives_it(role):
    user = create_user(f"walker_{role.value}", [role.value])
    problems = walk(user, {role})
    assert not problems, "\n".join(problems)


def test_a_user_without_a_role_is_refused_everywhere_and_audited():
    user = create_user("walker_without_role", [])
    problems = walk(user, set())
    assert not problems, "\n".join(problems)


def test_a_signed_out_visitor_is_sent_to_sign_in():
    problems = walk(None, set())
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(("language", "sentence"), [
    ("en", "Your permissions do not allow you to edit deliveries."),
    ("ko", "권한이 없어 발송을 편집할 수 없습니다."),
    ("ja", "権限がないため、配信を編集できません。"),
])
def test_the_refusal_page_says_what_was_refused_in_the_readers_language(language, sentence):
    delivery = delivery_in("editing")
    approver = create_user("approver", [Role.APPROVE_DELIVERIES.value])
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.force_login(approver)
    page = client.get(f"/deliveries/{delivery.pk}/edit/")
    assert page.status_code == 403
    text = page.content.decode()
    assert sentence in text
    assert f'<html lang="{language}">' in text
    assert delivery.subject not in text and "news@shop.example.com" not in text


def test_a_user_who_may_not_edit_cannot_submit_the_edit_form():
    delivery = delivery_in("editing")
    viewer = create_user("viewer", [Role.APPROVE_DELIVERIES.value])
    client = client_for(viewer)
    form = {"label": "Hijacked", "sender": "Evil <evil@example.com>", "subject": "Hi",
            "audience": delivery.audience_id, "html_body": HTML, "text_body": TEXT}
    assert client.post(f"/deliveries/{delivery.pk}/edit/", form).status_code == 403
    delivery.refresh_from_db()
    assert (delivery.label, delivery.sender) != ("Hijacked", "Evil <evil@example.com>")
    assert AuditEntry.objects.filter(action="delivery.edit", actor=viewer, allowed=False,
                                     delivery_id=delivery.pk).count() == 1


def test_a_viewer_reads_a_saved_audience_without_a_form_to_change_it():
    audience = Audience.objects.create(name="Korean speakers", filter='language = "ko"')
    viewer = client_for(create_user("viewer", [Role.APPROVE_DELIVERIES.value]))
    page = viewer.get(f"/audiences/{audience.pk}/").content.decode()
    assert "language = &quot;ko&quot;" in page
    assert "<form method=\"post\" class=\"form\"" not in page
    assert viewer.post(f"/audiences/{audience.pk}/", {"name": "Everyone", "filter": ""}
                       ).status_code == 403
    audience.refresh_from_db()
    assert (audience.name, audience.filter) == ("Korean speakers", 'language = "ko"')
    editor = client_for(create_user("editor", [Role.PREPARE_DELIVERIES.value]))
    assert "<form method=\"post\" class=\"form\"" in editor.get(
        f"/audiences/{audience.pk}/").content.decode()


def test_a_refused_user_cannot_tell_which_deliveries_exist():
    delivery = delivery_in("editing")
    importer = client_for(create_user("importer", [Role.IMPORT.value]))
    for pk in (delivery.pk, delivery.pk + 1000):
        assert importer.get(f"/deliveries/{pk}/").status_code == 403
        assert importer.get(f"/deliveries/{pk}/edit/").status_code == 403
        assert importer.post(f"/deliveries/{pk}/do/approve/").status_code == 403
        assert importer.post(f"/deliveries/{pk}/delete/").status_code == 403
        assert importer.post(f"/quarantine/{pk}/release/").status_code == 403
    editor = client_for(create_user("editor", [Role.PREPARE_DELIVERIES.value]))
    assert editor.get(f"/deliveries/{delivery.pk + 1000}/edit/").status_code == 404
