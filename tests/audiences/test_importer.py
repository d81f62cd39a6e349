"""Imports keep every good row, report every bad one by its line, and stream big files."""

from __future__ import annotations

import io
import re

import pytest

from envoi.audiences import importer
from envoi.audiences.importer import (
    ImportFileError,
    RowError,
    create_profiles,
    import_profiles_csv,
    validate_profile_row,
)
from envoi.audiences.models import Audience, AudienceMember, Profile

pytestmark = pytest.mark.django_db

HEADER = ("email,first_name,last_name,language,timezone,is_test,email_opt_out,"
          "attributes.city,attributes.vip,attributes.address.city\n")  # fmt: skip
BROKEN_CSV = (
    HEADER                                                                  # line 1
    + "kim@example.com,민준,김,ko,Asia/Seoul,no,0,Seoul,yes,Busan\n"       # 2
    + "sato@example.jp,さくら,佐藤,ja,Asia/Tokyo,false,,Tokyo,,\n"         # 3
    + "only,three,fields\n"                                                 # 4
    + '"x@example.com\nBcc: y@example.com",X,,en,UTC,,,,,\n'                # 5-6
    + 'ada@example.com,Ada,Lovelace,en-GB,Europe/London,,,"two\nlines",,\n'  # 7-8
    + ("a" * 309) + "@example.com,Long,,en,,,,,,\n"                         # 9
    + "maybe@example.com,May,,en,,maybe,,,,\n"                              # 10
    + "mars@example.com,Mars,,en,Mars/Olympus,,,,,\n"                       # 11
    + "lang@example.com,Lang,,english,,,,,,\n"                              # 12
    + "\n"                                                                  # 13
    + "not-an-email,Odd,,,,,,,,\n"                                          # 14
    + "  spaced@Example.COM  ,Space,,,,,true,,,\n"                          # 15
    + "tab@example.com,Tab\there,,,,,,,,\n"                                 # 16
)  # fmt: skip


def profiles_by_email() -> dict[str, Profile]:
    return {profile.email: profile for profile in Profile.objects.all()}


def test_broken_rows_are_reported_by_line_and_good_rows_kept():
    report = import_profiles_csv(io.StringIO(BROKEN_CSV))

    assert [(error.line, error.reason) for error in report.errors] == [
        (4, "expected 10 fields, found 3"),
        (5, "email contains a line break or another control character"),
        (9, "email is longer than 320 characters"),
        (10, 'is_test must be true, false, 1, 0, yes or no (empty means false), not "maybe"'),
        (11, 'unknown timezone "Mars/Olympus"; use an IANA name such as Asia/Seoul'),
        (12, 'language "english" is not a language tag such as en, ko or pt-BR'),
        (14, 'email "not-an-email" is not a valid address'),
        (16, "first_name contains a line break or another control character"),
    ]
    assert report.error_count == 8
    assert report.imported == 4
    stored = profiles_by_email()
    assert set(stored) == {"kim@example.com", "sato@example.jp", "ada@example.com",
                           "spaced@Example.COM"}

    kim = stored["kim@example.com"]
    assert (kim.first_name, kim.last_name, kim.language, kim.timezone) == (
        "민준", "김", "ko", "Asia/Seoul")
    assert (kim.is_test, kim.email_opt_out, kim.sms_opt_out) == (False, False, False)
    # attributes.vip holds only yes and empty cells: a boolean column
    assert kim.attributes == {"city": "Seoul", "vip": True, "address": {"city": "Busan"}}
    assert kim.created_at is not None and kim.updated_at == kim.created_at

    sato = stored["sato@example.jp"]
    assert (sato.first_name, sato.last_name, sato.language) == ("さくら", "佐藤", "ja")
    assert sato.attributes == {"city": "Tokyo"}
    assert stored["ada@example.com"].attributes == {"city": "two\nlines"}
    assert stored["spaced@Example.COM"].email_opt_out is True


def test_quoted_multiline_fields_keep_later_line_numbers_right():
    csv_text = (
        "email,first_name,attributes.note\n"           # 1
        'a@example.com,A,"one\ntwo\nthree"\n'          # 2-4
        "b@example.com,B,,extra\n"                     # 5
        '"c@example.com",C,"quote "" inside"\n'        # 6
        "d@example.com,D,no,extra\n"                   # 7
    )  # fmt: skip
    report = import_profiles_csv(io.StringIO(csv_text))
    assert [error.line for error in report.errors] == [5, 7]
    assert report.imported == 2
    assert Profile.objects.get(email="a@example.com").attributes == {"note": "one\ntwo\nthree"}
    assert Profile.objects.get(email="c@example.com").attributes == {"note": 'quote " inside'}


def test_an_attributes_column_holds_a_json_object():
    csv_text = (
        "email,attributes,attributes.city\n"
        'a@example.com,"{""tier"": ""gold"", ""points"": 12, ""city"": ""Osaka""}",Kyoto\n'
        'b@example.com,"[1, 2]",\n'
        "c@example.com,{not json},\n"
        "d@example.com,,\n"
    )
    report = import_profiles_csv(io.StringIO(csv_text))
    assert report.errors == [
        RowError(3, 'attributes must be a JSON object, such as {"city": "Seoul"}'),
        RowError(4, "attributes is not valid JSON: Expecting property name enclosed in "
                    "double quotes"),
    ]
    assert Profile.objects.get(email="a@example.com").attributes == {
        "tier": "gold", "points": 12, "city": "Kyoto"}
    assert Profile.objects.get(email="d@example.com").attributes == {}


@pytest.mark.parametrize("header, column, message", [
    ("email,frist_name\n", "frist_name", 'unknown column "frist_name" (did you mean first_name?)'),
    ("email,company\n", "company",
     'unknown column "company"; known columns: external_id, email, phone'),
    ("email,email\n", "email", 'column "email" appears twice'),
    ("email,attributes.a,attributes.a.b\n", "attributes.a.b", "both set"),
    ("email,attributes.9lives\n", "attributes.9lives", "attribute keys start with a letter"),
])  # fmt: skip
def test_a_bad_header_rejects_the_whole_file(header, column, message):
    with pytest.raises(ImportFileError, match=re.escape(message)) as caught:
        import_profiles_csv(io.StringIO(header + "ok@example.com,x\n"))
    assert caught.value.column == column
    assert Profile.objects.count() == 0


def test_an_empty_file_is_a_file_error():
    with pytest.raises(ImportFileError, match="empty"):
        import_profiles_csv(io.StringIO(""))


def test_header_names_are_forgiving_about_case_spaces_and_bom():
    report = import_profiles_csv(io.StringIO("\ufeffEmail , First_Name\nx@example.com,X\n"))
    assert report.imported == 1
    assert Profile.objects.get().first_name == "X"


def test_imported_profiles_join_a_static_list_across_batches():
    audience = Audience.objects.create(name="Spring list", kind=Audience.LIST)
    Profile.objects.create(email="already@example.com")
    csv_text = "email\n" + "".join(f"m{n}@example.com\n" for n in range(7)) + "bad\x01@x\n"
    report = import_profiles_csv(io.StringIO(csv_text), audience=audience, batch_size=3)
    assert report.imported == 7 and report.error_count == 1
    members = AudienceMember.objects.filter(audience=audience)
    assert sorted(member.profile.email for member in members) == [
        f"m{n}@example.com" for n in range(7)]


def test_a_filter_audience_cannot_receive_imports():
    audience = Audience.objects.create(name="Koreans", filter='language = "ko"')
    with pytest.raises(ValueError, match="saved filter"):
        import_profiles_csv(io.StringIO("email\na@example.com\n"), audience=audience)
    assert Profile.objects.count() == 0


def test_json_bulk_reports_each_bad_object_by_its_index():
    audience = Audience.objects.create(name="API list", kind=Audience.LIST)
    report = create_profiles([
        {"email": " api@example.com ", "first_name": "지우", "is_test": True,
         "attributes": {"vip": True, "age": 41, "tags": ["a", "b"]}},
        "not an object",
        {"email": "b@example.com", "is_test": "maybe"},
        {"email": "c@example.com", "nickname": "C"},
        {"email": "d@example.com", "attributes": [1]},
        {"email": "e@example.com", "phone": 821012345678},
        {"email": "f@example.com", "attributes": {"bad": "nul\x00"}},
        {"email": "g@example.com", "attributes": {"ratio": float("nan")}},
        {"phone": "+81 90 1234 5678", "language": "ja", "attributes.city": "Osaka"},
    ], audience=audience)  # fmt: skip
    assert [(error.line, error.reason.split(";")[0]) for error in report.errors] == [
        (2, "expected an object of profile fields"),
        (3, 'is_test must be true, false, 1, 0, yes or no (empty means false), not "maybe"'),
        (4, 'unknown field "nickname"'),
        (5, 'attributes must be a JSON object, such as {"city": "Seoul"}'),
        (6, "phone must be text"),
        (7, "attributes cannot hold the NUL character"),
        (8, "attributes can hold only JSON values (no NaN or Infinity)"),
    ]
    assert report.imported == 2
    api = Profile.objects.get(email="api@example.com")
    assert api.is_test is True and api.first_name == "지우"
    assert api.attributes == {"vip": True, "age": 41, "tags": ["a", "b"]}
    assert Profile.objects.get(phone="+81 90 1234 5678").attributes == {"city": "Osaka"}
    assert AudienceMember.objects.filter(audience=audience).count() == 2


def test_validate_profile_row_returns_clean_columns():
    assert validate_profile_row({"email": " a@b.example ", "sms_opt_out": "YES"}) == {
        "email": "a@b.example", "phone": "", "first_name": "", "last_name": "",
        "language": "", "timezone": "", "email_opt_out": False, "sms_opt_out": True,
        "is_test": False, "attributes": {},
    }  # fmt: skip
    with pytest.raises(ValueError, match="phone is longer than 32 characters"):
        validate_profile_row({"phone": "1" * 33})


def test_the_report_keeps_the_first_errors_and_counts_them_all(monkeypatch):
    monkeypatch.setattr(importer, "MAX_REPORTED_ERRORS", 3)
    report = import_profiles_csv(io.StringIO("email,is_test\n" + "x,maybe\n" * 5))
    assert [error.line for error in report.errors] == [2, 3, 4]
    assert report.error_count == 5 and report.imported == 0


def test_text_that_is_not_utf8_costs_its_own_line_only():
    good = "email\n" + "".join(f"u{n}@example.com\n" for n in range(2000))
    raw = good.encode() + b"caf\xe9@example.com\n" + b"late@example.com\n"
    report = import_profiles_csv(io.BytesIO(raw), encoding="utf-8")
    [error] = report.errors
    assert error.line == 2002 and error.reason.startswith(
        'column "email": byte 0xE9 at position 4 is not UTF-8 text (the encoding given)')
    assert report.imported == 2001 == Profile.objects.count()
    assert Profile.objects.filter(email="late@example.com").exists()


def test_fifty_thousand_rows_stream_in_batches():
    def rows():
        yield "email,first_name,language,timezone,is_test,attributes.n\n"
        for n in range(50_000):
            yield f"p{n}@example.com,이름{n},ko,Asia/Seoul,false,{n}\n"

    stream = io.StringIO("".join(rows()))
    report = import_profiles_csv(stream)
    assert report.imported == 50_000 and report.errors == []
    assert Profile.objects.count() == 50_000
    last = Profile.objects.get(email="p49999@example.com")
    assert (last.first_name, last.attributes) == ("이름49999", {"n": 49999})
