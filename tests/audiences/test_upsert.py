"""Re-running an import updates profiles instead of adding them again, in every mode."""

from __future__ import annotations

import io

import pytest

from envoi.accounts.models import AuditEntry
from envoi.accounts.services import OPERATOR
from envoi.audiences.importer import ImportFileError, import_profiles_csv
from envoi.audiences.models import Audience, AudienceMember, Profile
from envoi.audiences.services import count_filter, import_csv

pytestmark = pytest.mark.django_db


def csv_file(text: str) -> io.BytesIO:
    return io.BytesIO(text.encode())


def big_csv(rows: int, *, vip_every: int = 3, changed: range = range(0)) -> io.BytesIO:
    lines = ["email,first_name,attributes.vip,attributes.age,attributes.since\n"]
    for n in range(rows):
        name = f"New{n}" if n in changed else f"P{n}"
        vip = "true" if n % vip_every == 0 else "false"
        lines.append(f"user{n}@example.com,{name},{vip},{20 + n % 50},2026-01-{1 + n % 28:02d}\n")
    return csv_file("".join(lines))


def test_the_same_hundred_thousand_rows_twice_leave_a_hundred_thousand_profiles():
    first = import_profiles_csv(big_csv(100_000))
    assert (first.created, first.updated, first.error_count) == (100_000, 0, 0)

    # the same file with 1,000 names changed and the addresses in another case
    second_file = big_csv(100_000, changed=range(5000, 6000))
    second_file = csv_file(second_file.getvalue().decode().replace("user1", "USER1"))
    second = import_profiles_csv(second_file)
    assert (second.created, second.updated, second.error_count) == (0, 100_000, 0)
    assert Profile.objects.count() == 100_000
    assert Profile.objects.filter(first_name__startswith="New").count() == 1000
    assert Profile.objects.get(pk=Profile.objects.get(first_name="New5000").pk).email == (
        "user5000@example.com")

    # typed attributes filter as the README's own examples write them
    assert count_filter("attributes.vip = true") == len(range(0, 100_000, 3))
    assert count_filter("attributes.vip = false") == 100_000 - len(range(0, 100_000, 3))
    assert count_filter("attributes.age >= 60") == 100_000 // 50 * 10
    assert count_filter('attributes.since < "2026-01-03"') == 2 * 100_000 // 28 + 2


def test_modes_update_skip_and_add():
    Profile.objects.create(email="Old@Example.com", first_name="Old", attributes={"keep": 1})
    text = ("email,first_name,attributes.tier\n"
            " old@example.com ,Renamed,gold\nnew@example.com,New,\n")

    skip = import_profiles_csv(csv_file(text), mode="skip")
    assert (skip.created, skip.updated, skip.skipped, skip.errors) == (1, 0, 1, [])
    assert Profile.objects.get(email="Old@Example.com").first_name == "Old"

    add = import_profiles_csv(csv_file(text), mode="add")
    assert (add.created, add.updated, add.skipped, add.error_count) == (0, 0, 2, 0)
    assert [error.line for error in add.errors] == [2, 3]
    assert "already exists" in add.errors[0].reason

    update = import_profiles_csv(csv_file(text))
    assert (update.created, update.updated, update.skipped) == (0, 2, 0)
    old = Profile.objects.get(first_name="Renamed")
    assert old.email == "old@example.com"
    assert old.attributes == {"keep": 1, "tier": "gold"}  # merged key by key
    assert Profile.objects.count() == 2

    with pytest.raises(ValueError, match="unknown import mode"):
        import_profiles_csv(csv_file(text), mode="replace")


def test_empty_cells_leave_stored_values_alone():
    Profile.objects.create(email="a@example.com", first_name="Ann", last_name="Lee",
                           email_opt_out=True, attributes={"city": "Seoul"})
    report = import_profiles_csv(csv_file(
        "email,first_name,last_name,email_opt_out,attributes.city\na@example.com,,Park,,\n"))
    assert report.updated == 1
    profile = Profile.objects.get()
    assert (profile.first_name, profile.last_name, profile.email_opt_out) == ("Ann", "Park", True)
    assert profile.attributes == {"city": "Seoul"}


def test_external_id_matches_first_and_adopts_a_profile_by_address():
    by_address = Profile.objects.create(email="kim@example.com", first_name="Kim")
    by_id = Profile.objects.create(email="old@example.com", external_id="C-2")
    report = import_profiles_csv(csv_file(
        "external_id,email,first_name\n"
        "C-1,kim@example.com,민준\n"         # adopts the profile with the address
        "C-2,moved@example.com,Moved\n"      # matched by id: the address changes
        "C-3,,OnlyId\n"                      # nothing to update and no address
        "C-4,new@example.com,New\n"))
    assert (report.created, report.updated, report.error_count) == (1, 2, 1)
    assert [(error.line, error.reason) for error in report.errors] == [
        (4, 'no address, and no profile has external_id "C-3" to update')]
    by_address.refresh_from_db()
    by_id.refresh_from_db()
    assert (by_address.external_id, by_address.first_name) == ("C-1", "민준")
    assert by_id.email == "moved@example.com"
    assert Profile.objects.get(external_id="C-4").email == "new@example.com"


def test_rows_naming_the_same_profile_twice_keep_the_last():
    report = import_profiles_csv(csv_file(
        "email,first_name\na@example.com,First\nb@example.com,B\nA@example.com,Last\n"))
    assert (report.created, report.skipped, report.error_count) == (2, 1, 0)
    assert [(error.line, error.reason) for error in report.errors] == [
        (2, "the same profile appears again on line 4, which is the one imported")]
    assert Profile.objects.get(email="A@example.com").first_name == "Last"


def test_existing_duplicates_are_left_and_the_oldest_is_updated():
    oldest = Profile.objects.create(email="twice@example.com", first_name="1")
    newer = Profile.objects.create(email="TWICE@example.com ", first_name="2")
    import_profiles_csv(csv_file("email,first_name\ntwice@example.com,Updated\n"))
    oldest.refresh_from_db()
    newer.refresh_from_db()
    assert (oldest.first_name, newer.first_name) == ("Updated", "2")
    assert Profile.objects.count() == 2


def test_bad_and_missing_addresses_are_reported_and_the_rest_imported():
    report = import_profiles_csv(csv_file(
        "email,phone,first_name\n"
        "good@example.com,,Good\n"
        "no-at-sign.example.com,,Bad\n"
        ",,Nobody\n"
        ",+82 10 1234 5678,SMS only\n"
        "two@@example.com,,Bad\n"))
    assert [(error.line, error.reason) for error in report.errors] == [
        (3, 'email "no-at-sign.example.com" is not a valid address'),
        (4, "no address: the row needs an email or a phone"),
        (6, 'email "two@@example.com" is not a valid address'),
    ]
    assert report.created == 2 and report.rejected == 3


def test_declared_types_beat_inference_and_misfits_are_refused():
    report = import_profiles_csv(csv_file(
        "email,attributes.zip,attributes.score:number,attributes.member:boolean\n"
        "a@example.com,01234,7,yes\n"
        "b@example.com,12345,x,no\n"
        "c@example.com,54321,2.5,maybe\n"), types={"zip": "string"})
    assert [(error.line, error.reason) for error in report.errors] == [
        (3, 'attributes.score: "x" is not a number such as 42 or -3.5 (the column holds '
            "number values)"),
        (4, 'attributes.member: "maybe" is not true or false (also yes/no, 1/0) (the column '
            "holds boolean values)"),
    ]
    assert Profile.objects.get().attributes == {"zip": "01234", "score": 7, "member": True}
    with pytest.raises(ImportFileError, match='unknown attribute type "money"'):
        import_profiles_csv(csv_file("email,attributes.x:money\n"))


def test_inference_keeps_codes_as_text_and_one_type_per_column():
    import_profiles_csv(csv_file(
        "email,attributes.code,attributes.n,attributes.mixed\n"
        "a@example.com,007,1,1\n"
        "b@example.com,123,0,two\n"))
    stored = {p.email: p.attributes for p in Profile.objects.all()}
    assert stored["a@example.com"] == {"code": "007", "n": 1, "mixed": "1"}
    assert stored["b@example.com"] == {"code": "123", "n": 0, "mixed": "two"}


def test_a_mapping_renames_and_leaves_out_columns():
    report = import_profiles_csv(csv_file("Mail,Name,Notes,VIP\na@example.com,Ann,x,Y\n"),
                                 mapping=["email", "first_name", "", "attributes.vip:boolean"],
                                 types={})
    assert report.error_count == 1  # "Y" is not a boolean word
    report = import_profiles_csv(csv_file("Mail,Name,Notes,VIP\na@example.com,Ann,x,yes\n"),
                                 mapping=["email", "first_name", "", "attributes.vip:boolean"])
    assert report.created == 1
    assert Profile.objects.get().attributes == {"vip": True}


def test_lists_are_joined_once_and_imports_are_audited_with_counts():
    Profile.objects.create(email="old@example.com")
    text = "email\nold@example.com\nnew@example.com\n"
    for _ in range(2):
        import_csv(OPERATOR, csv_file(text), "Spring", check_role=False)
    spring = Audience.objects.get(name="Spring")
    assert AudienceMember.objects.filter(audience=spring).count() == 2
    entry = AuditEntry.objects.filter(action="profile.import").latest("pk")
    assert {key: entry.detail[key] for key in ("created", "updated", "skipped", "rejected",
                                                "mode")} == {
        "created": 0, "updated": 2, "skipped": 0, "rejected": 0, "mode": "update"}


def test_the_api_reimports_with_a_mode_and_declared_types():
    from tests.support.api import Api

    api = Api("ivan", "import")
    body = "email,attributes.vip,attributes.code\na@example.com,1,007\nnot-an-address,0,1\n"
    first = api.ok(api.post("/profiles/import?types=vip:boolean", body,
                            content_type="text/csv"))
    assert (first["created"], first["updated"], first["error_count"]) == (1, 0, 1)
    assert first["errors"] == [{"line": 3,
                                "reason": 'email "not-an-address" is not a valid address'}]
    again = api.ok(api.post("/profiles/import?mode=add", body, content_type="text/csv"))
    assert (again["created"], again["skipped"]) == (0, 1)
    assert Profile.objects.get().attributes == {"vip": True, "code": "007"}
    assert count_filter("attributes.vip = true") == 1
    refused = api.post("/profiles/import?mode=merge", body, content_type="text/csv")
    assert refused.status_code == 400 and "unknown import mode" in refused.json()["detail"]
    assert api.post("/profiles/import?types=vip", body,
                    content_type="text/csv").status_code == 400
