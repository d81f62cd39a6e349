"""Bad input gets a clear 4xx naming what and where, loses nothing, and never a 500."""

from __future__ import annotations

import pytest

from envoi.accounts.roles import Role
from envoi.audiences.models import Profile
from envoi.deliveries.models import Delivery
from tests.support.api import Api
from tests.support.deliveries import delivery_in
from tests.support.scenario import delivery_payload

pytestmark = pytest.mark.django_db


@pytest.fixture
def api():
    return Api("everything", "prepare_deliveries", "import", "start_deliveries")


def test_csv_with_broken_rows_keeps_every_good_row(api):
    csv = (
        "email,first_name,language,timezone,is_test\n"
        "ok1@example.com,민지,ko,Asia/Seoul,false\n"
        "bad-lang@example.com,X,not a language,,\n"
        "ok2@example.com,陽翔,ja,Asia/Tokyo,no\n"
        "too,many,fields,here,false,extra\n"
        "bad-tz@example.com,Y,en,Mars/Olympus,\n"
        "bad-bool@example.com,Z,en,,perhaps\n"
        "ok3@example.com,Ada,en,,\n"
    )
    report = api.ok(api.post("/profiles/import", csv, content_type="text/csv"))
    assert report["imported"] == 3 and report["error_count"] == 4
    assert [e["line"] for e in report["errors"]] == [3, 5, 6, 7]
    assert all(e["reason"] for e in report["errors"])
    assert set(Profile.objects.values_list("email", flat=True)) == {
        "ok1@example.com", "ok2@example.com", "ok3@example.com"}


def test_csv_with_an_unknown_column_is_refused_whole(api):
    response = api.post("/profiles/import", "email,shoe_size\na@example.com,44\n",
                        content_type="text/csv")
    assert response.status_code == 400
    assert "shoe_size" in response.json()["detail"]
    assert not Profile.objects.exists()


def test_bad_filter_says_where(api):
    response = api.post("/audiences", {"name": "x", "filter": 'language = "ko" and'})
    assert response.status_code == 400
    assert "line 1, column" in response.json()["detail"]


def test_liquid_syntax_error_is_saved_as_a_finding_with_line_and_column(api):
    """A draft keeps its work: the error is a finding on its field, not a refusal."""
    audience = api.ok(api.post("/audiences", {"name": "a", "filter": ""}), 201)
    payload = delivery_payload(audience["id"], html_body="<p>Hi</p>\n<p>{% if x %}</p>")
    saved = api.ok(api.post("/deliveries", payload), 201)
    [finding] = [f for f in saved["findings"] if f["code"] == "personalization"]
    assert (finding["field"], finding["line"]) == ("html_body", 2)
    assert finding["message"].startswith("HTML: ") and "html_body" not in finding["message"]
    prepared = api.ok(api.post(f"/deliveries/{saved['id']}/prepare"))
    assert prepared["status"] == "preparation_failed"


def test_unknown_personalization_field(api):
    audience = api.ok(api.post("/audiences", {"name": "a", "filter": ""}), 201)
    saved = api.ok(api.post("/deliveries", delivery_payload(
        audience["id"], subject="Hi {{ frist_name }}")), 201)
    [finding] = [f for f in saved["findings"] if f["code"] == "personalization"]
    assert (finding["field"], finding["line"], finding["column"]) == ("subject", 1, 7)
    assert 'Subject: unknown field "frist_name"' in finding["message"]


@pytest.mark.parametrize("field,value,expected", [
    ("sender", "News <news@example.com>\r\nBcc: victim@example.com", "sender"),
    ("reply_to", "a@example.com\nX-Evil: 1", "reply_to"),
    ("subject", "Hello\r\nBcc: victim@example.com", "subject: contains a line break"),
    ("sender", "no address here", "sender"),
])
def test_header_values_with_line_breaks_are_refused(api, field, value, expected):
    audience = api.ok(api.post("/audiences", {"name": "a", "filter": ""}), 201)
    response = api.post("/deliveries", delivery_payload(audience["id"], **{field: value}))
    assert response.status_code == 400
    assert expected in response.json()["detail"]
    delivery = delivery_in("editing")
    response = api.patch(f"/deliveries/{delivery.pk}", {field: value})
    assert response.status_code == 400
    delivery.refresh_from_db()
    assert getattr(delivery, field) != value


def test_unknown_json_field_is_named(api):
    response = api.post("/deliveries", {"label": "x", "sender": "a@example.com",
                                        "subject": "s", "colour": "red"})
    assert response.status_code == 422
    assert "colour" in response.content.decode()


def test_malformed_json_is_a_4xx(api):
    response = api.post("/deliveries", "{not json", content_type="application/json")
    assert 400 <= response.status_code < 500


def test_unknown_delivery_id_is_404(api):
    for path in ("/deliveries/999999", "/deliveries/999999/logs/sending"):
        response = api.get(path)
        assert response.status_code == 404
        assert response.json() == {"detail": "Delivery 999999 does not exist."}
    response = api.post("/deliveries/999999/confirm")
    assert response.status_code == 404


def test_tampered_unsubscribe_token_changes_nothing(client, relay, send_all):
    delivery = delivery_in("in_progress")
    send_all()
    from envoi.sending.models import SendingLog
    from envoi.tracking.tokens import sign

    row = SendingLog.objects.filter(delivery=delivery).first()
    token = sign("unsubscribe", row.pk)
    forged = sign("unsubscribe", row.pk + 1)[:-20] + token[-20:]
    for bad in (token[:-1] + ("a" if token[-1] != "a" else "b"), token[:10], forged,
                sign("bounce", row.pk), "../../etc/passwd", "x" * 500):
        for method in (client.get, client.post):
            response = method(f"/u/{bad}")
            assert response.status_code in (400, 404), (bad, response.status_code)
    assert not Profile.objects.filter(email_opt_out=True, email=row.address).exists()


def test_unsubscribe_get_asks_post_opts_out(client, relay, send_all):
    delivery = delivery_in("in_progress")
    send_all()
    from envoi.accounts.models import AuditEntry
    from envoi.sending.models import SendingLog
    from envoi.tracking.tokens import sign

    row = SendingLog.objects.filter(delivery=delivery).first()
    url = f"/u/{sign('unsubscribe', row.pk)}"
    page = client.get(url)
    assert page.status_code == 200 and b"<form method=\"post\">" in page.content
    assert not Profile.objects.get(pk=row.profile_id).email_opt_out
    done = client.post(url, {"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200
    assert Profile.objects.get(pk=row.profile_id).email_opt_out
    entry = AuditEntry.objects.get(action="profile.unsubscribe")
    assert entry.delivery_id == delivery.pk and entry.detail["one_click"] is True


def test_null_for_a_required_field_is_refused(api):
    delivery = delivery_in("editing")
    response = api.patch(f"/deliveries/{delivery.pk}", {"label": None, "subject": None})
    assert response.status_code == 400
    assert response.json() == {"detail": "label, subject: may not be null."}


@pytest.mark.parametrize("path", [
    "/outbox?offset=571321242928849577050112&limit=-5",
    "/deliveries?page=99999999999999999999",
    "/deliveries/1/logs/sending?page_size=0",
])
def test_paging_out_of_range_is_a_4xx(api, path):
    from envoi.accounts.services import set_roles

    set_roles(api.user, ["prepare_deliveries", "import", "start_deliveries"])
    delivery_in("editing")
    response = api.client.get(f"/api/v1{path}", headers=api._headers())
    assert response.status_code == 422, response.content


def test_numbers_beyond_the_database_and_broken_unicode_are_4xx(api):
    audience = api.ok(api.post("/audiences", {"name": "a", "filter": ""}), 201)
    too_big = api.post("/deliveries", delivery_payload(
        audience["id"], retry_delay_seconds=29540008619594125312))
    assert too_big.status_code == 422
    surrogate = api.post("/deliveries", '{"label": "\\udac1x", "sender": "a@example.com", '
                         '"subject": "s", "text_body": "{{ unsubscribe_url }}"}')
    assert surrogate.status_code == 400
    assert surrogate.json()["detail"].startswith("body.label: contains a lone surrogate")
    assert api.get("/deliveries/99999999999999999999").status_code in (404, 422)
    assert not Delivery.objects.exists()


def test_adding_profiles_to_a_filter_audience_is_refused(api):
    api.ok(api.post("/audiences", {"name": "Koreans", "filter": 'language = "ko"'}), 201)
    for response in (api.post("/profiles?audience=Koreans", [{"email": "x@example.com"}]),
                     api.post("/profiles/import?audience=Koreans", "email\nx@example.com\n",
                              content_type="text/csv")):
        assert response.status_code == 400
        assert "is a filter, not a static list" in response.json()["detail"]
    assert not Profile.objects.exists()


# Text no database stores: a NUL character (PostgreSQL refuses it in text) and a lone
# surrogate. Every query parameter, form field and JSON string is checked before a view.
NUL = "a\x00b"

API_QUERIES = [
    ("/deliveries", {"search": NUL}),
    ("/deliveries", {"status": NUL}),
    ("/deliveries/{id}/logs/sending", {"status": NUL}),
    ("/deliveries/{id}/logs/sending", {"reason": NUL}),
    ("/deliveries/{id}/logs/exclusions", {"reason": NUL}),
    ("/quarantine", {"reason": NUL}),
]


@pytest.mark.parametrize("path,params", API_QUERIES)
def test_a_nul_in_an_api_query_is_a_400_naming_it(api, path, params):
    delivery = delivery_in("editing")
    response = api.get(path.format(id=delivery.pk), **params)
    assert response.status_code == 400, response.content[:300]
    name = next(iter(params))
    assert response.json() == {
        "detail": f"query parameter '{name}': contains a NUL character, which cannot be "
                  "stored"}


def test_a_nul_in_the_audience_of_an_import_is_a_400(api):
    for response in (api.post(f"/profiles?audience={NUL}", [{"email": "x@example.com"}]),
                     api.post(f"/profiles/import?audience={NUL}", "email\nx@example.com\n",
                              content_type="text/csv")):
        assert response.status_code == 400
        assert "query parameter 'audience'" in response.json()["detail"]
    assert not Profile.objects.exists()


@pytest.mark.parametrize("body,where", [
    ('{"name": "a\\u0000b", "filter": ""}', "body.name"),
    ('{"name": "x", "filter": "language = \\"\\u0000\\""}', "body.filter"),
    ('{"name": "x", "filter": "", "\\u0000": 1}', "body.\x00"),
    ('{"name": "\\udc80", "filter": ""}', "body.name"),
])
def test_unstorable_json_strings_are_a_400_naming_the_field(api, body, where):
    response = api.post("/audiences", body)
    assert response.status_code == 400, response.content
    assert response.json()["detail"].startswith(f"{where}: contains")


def test_a_nul_in_a_profile_attribute_is_a_400(api):
    response = api.post("/profiles", [{"email": "x@example.com", "attributes": {"k": NUL}}])
    assert response.status_code == 400
    assert response.json()["detail"].startswith("body[0].attributes.k: contains a NUL")
    assert not Profile.objects.exists()


def test_a_nul_in_the_path_or_the_token_is_a_400(api):
    response = api.client.get("/api/v1/quarantine/a%00b", headers=api._headers())
    assert response.status_code == 400 and response.json()["detail"].startswith("path:")
    response = api.client.get("/api/v1/deliveries",
                              headers={"Authorization": "Bearer x\x00y"})
    assert response.status_code == 400
    assert response.json()["detail"].startswith("Authorization header:")


def test_a_json_body_nested_too_deeply_is_a_400(api):
    response = api.post("/profiles", "[" * 100_000 + "]" * 100_000)
    assert response.status_code in (400, 413)
    assert response["Content-Type"] == "application/json"


def test_a_json_body_over_the_upload_limit_is_a_json_413(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = api.post("/audiences", {"name": "x" * 2000, "filter": ""})
    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "detail": "The request body is larger than this server accepts (1000 bytes)."}


def test_django_level_api_errors_are_json(api):
    unknown = api.get("/no-such-thing")
    assert unknown.status_code == 404 and unknown["Content-Type"] == "application/json"
    assert unknown.json() == {"detail": "No API operation at '/api/v1/no-such-thing'."}
    wrong_method = api.client.put("/api/v1/deliveries", "{}", content_type="application/json",
                                  headers=api._headers())
    assert wrong_method.status_code == 405 and "GET" in wrong_method["Allow"]
    assert wrong_method.json()["detail"].startswith("PUT is not allowed here")
    malformed = api.post("/deliveries", "{not json")
    assert malformed.status_code == 400 and "detail" in malformed.json()


def test_a_console_session_without_csrf_or_token_gets_json(api):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(api.user)
    response = client.post("/api/v1/deliveries", "{}", content_type="application/json")
    assert response.status_code == 401
    assert response["Content-Type"].startswith("application/json")
    assert "detail" in response.json()


def test_a_server_error_under_the_api_is_json(api, monkeypatch):
    from envoi.api import deliveries

    def broken(*args, **kwargs):
        raise RuntimeError("a fault inside the core")

    monkeypatch.setattr(deliveries, "_page", broken)
    api.client.raise_request_exception = False
    response = api.get("/deliveries")
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal server error. The error was logged."}


CONSOLE_QUERIES = [
    ("/deliveries/", "q"), ("/deliveries/", "status"), ("/profiles/", "q"),
    ("/quarantine/", "q"), ("/quarantine/", "reason"), ("/quarantine/", "status"),
    ("/admin/audit/", "actor"), ("/admin/audit/", "action"),
    ("/deliveries/{id}/logs/sending/", "reason"), ("/deliveries/{id}/logs/sending/", "status"),
]


@pytest.mark.parametrize("path,name", CONSOLE_QUERIES)
def test_a_nul_in_a_console_query_is_a_400_page(path, name):
    from tests.web.conftest import signed_in

    client = signed_in("admin", *Role, language="ko")
    delivery = delivery_in("editing")
    response = client.get(path.format(id=delivery.pk), {name: NUL})
    assert response.status_code == 400
    page = response.content.decode()
    assert "저장할 수 없는 문자" in page and f"“{name}”" in page
    assert "script-src 'self'" in response["Content-Security-Policy"]


def test_a_nul_in_a_console_form_is_a_400_page():
    from tests.web.conftest import signed_in

    client = signed_in("admin", *Role)
    response = client.post("/audiences/new/", {"name": NUL, "filter": ""})
    assert response.status_code == 400
    assert "in the field “name”" in response.content.decode()
