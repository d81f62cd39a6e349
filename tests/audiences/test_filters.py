"""The filter language selects exactly the profiles it says, on SQLite and PostgreSQL alike,
and never lets a value reach the SQL text."""

from __future__ import annotations

import contextlib
import re
from datetime import UTC, datetime

import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from envoi.audiences.filters import CompiledFilter, FilterError, check_filter, compile_filter
from envoi.audiences.models import Profile

PEOPLE = {
    "kim": dict(
        email="kim@Example.com", first_name="민준", language="ko",
        attributes={"vip": True, "age": 34, "score": 7.5, "city": "Seoul", "note": "hi",
                    "last-order": "2024-05-01", "address": {"city": "Busan", "zip": "06000"}},
    ),
    "sato": dict(
        email="sato@example.jp", first_name="さくら", language="ja", is_test=True,
        attributes={"vip": False, "age": "34", "city": "Tokyo", "tags": ["a"]},
    ),
    "bob": dict(
        email="bob@EXAMPLE.COM", first_name="Bob", language="en", email_opt_out=True,
        attributes={"vip": "true", "age": 29, "city": None, "note": ""},
    ),
    "pat": dict(phone="+15550100", language="en-US", attributes={}),
    "obrien": dict(
        email="o'brien' OR 1=1 --@x.com", first_name="100%_sure",
        attributes={"city": "' OR 1=1 --"},
    ),
}  # fmt: skip
EVERYONE = set(PEOPLE)
# The only quoted text compiled SQL may hold: JSON type names, '' and the LIKE escape.
FIXED_SQL_LITERALS = {"''", "'\\'", "'null'", "'true'", "'false'", "'text'", "'integer'",
                      "'real'", "'string'", "'number'"}
CREATED = {
    "kim": datetime(2024, 1, 15, 10, 0, tzinfo=UTC),
    "sato": datetime(2024, 3, 1, 0, 0, tzinfo=UTC),
    "bob": datetime(2024, 3, 1, 23, 59, 59, tzinfo=UTC),
}


@pytest.fixture
def ids(db) -> dict[str, int]:
    created = {name: Profile.objects.create(**fields).pk for name, fields in PEOPLE.items()}
    for name, moment in CREATED.items():
        Profile.objects.filter(pk=created[name]).update(created_at=moment)
    return created


@pytest.fixture
def select(ids):
    """Run a filter the way preparation does and name the profiles it selects."""
    names = {pk: name for name, pk in ids.items()}

    def run(text: str) -> set[str]:
        compiled = compile_filter(text, connection.vendor)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT p.id FROM audiences_profile p WHERE {compiled.sql}",
                           compiled.params)
            return {names[pk] for (pk,) in cursor.fetchall()}

    return run


@pytest.mark.parametrize("text, expected", [
    ('language = "ko"', {"kim"}),
    ('language != "ko"', EVERYONE - {"kim"}),
    ('language = "KO"', set()),
    ('language in ("ko", "ja")', {"kim", "sato"}),
    ('language not in ("ko", "ja")', {"bob", "pat", "obrien"}),
    ('email >= "p"', {"sato"}),
    ('email < "c"', {"bob", "pat"}),
    ('email ends with "@example.com"', {"kim", "bob"}),
    ('email starts with "KIM@"', {"kim"}),
    ('email contains "@EXAMPLE."', {"kim", "sato", "bob"}),
    ('first_name contains "%"', {"obrien"}),
    ('first_name contains "_"', {"obrien"}),
    ('first_name starts with "100%_"', {"obrien"}),
    ('first_name = "민준"', {"kim"}),
    ('first_name contains "くら"', {"sato"}),
    ('email is empty', {"pat"}),
    ('email is not empty', EVERYONE - {"pat"}),
    ('phone is not empty', {"pat"}),
    ('is_test = true', {"sato"}),
    ('email_opt_out != true', EVERYONE - {"bob"}),
    ('sms_opt_out = false', EVERYONE),
])  # fmt: skip
def test_profile_columns(select, text, expected):
    assert select(text) == expected


def test_id_comparisons(select, ids):
    assert select(f"id = {ids['bob']}") == {"bob"}
    assert select(f"id in ({ids['kim']}, {ids['pat']})") == {"kim", "pat"}
    assert select(f"id > {max(ids.values())}") == set()


@pytest.mark.parametrize("text, expected", [
    ('created_at = "2024-03-01"', {"sato", "bob"}),
    ('created_at != "2024-03-01"', {"kim", "pat", "obrien"}),
    ('created_at < "2024-03-01"', {"kim"}),
    ('created_at <= "2024-03-01"', {"kim", "sato", "bob"}),
    ('created_at > "2024-03-01"', {"pat", "obrien"}),
    ('created_at >= "2024-03-01"', EVERYONE - {"kim"}),
    ('created_at >= "2024-03-01T12:00:00+09:00"', {"bob", "pat", "obrien"}),
    ('created_at < "2024-01-15T10:00:00"', set()),
    ('created_at <= "2024-01-15T10:00:00Z"', {"kim"}),
    ('created_at = "2024-01-15T10:00:00+00:00"', {"kim"}),
])  # fmt: skip
def test_dates_compare_with_iso_strings(select, text, expected):
    assert select(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("attributes.vip = true", {"kim"}),
    ("attributes.vip = false", {"sato"}),
    ('attributes.vip = "true"', {"bob"}),
    ("attributes.vip != true", EVERYONE - {"kim"}),
    ("attributes.vip = 1", set()),
    ("attributes.age > 30", {"kim"}),
    ("attributes.age = 34", {"kim"}),
    ('attributes.age = "34"', {"sato"}),
    ("attributes.age <= 29", {"bob"}),
    ('attributes.age > "3"', {"sato"}),
    ("attributes.score > 7.25", {"kim"}),
    ("attributes.score >= 7.5", {"kim"}),
    ("attributes.city > 0", set()),
    ('attributes.city = "Seoul"', {"kim"}),
    ('attributes.city in ("Seoul", "Tokyo")', {"kim", "sato"}),
    ('attributes.city not in ("Seoul", "Tokyo")', {"bob", "pat", "obrien"}),
    ('attributes.city in ("Seoul", 1, true, null)', {"kim", "bob", "pat"}),
    ("attributes.city = null", {"bob", "pat"}),
    ("attributes.city != null", {"kim", "sato", "obrien"}),
    ("attributes.city is empty", {"bob", "pat"}),
    ("attributes.note is empty", EVERYONE - {"kim"}),
    ("attributes.note is not empty", {"kim"}),
    ('attributes.city contains "EO"', {"kim"}),
    ('attributes.city ends with "yo"', {"sato"}),
    ('attributes.age starts with "3"', {"sato"}),
    ('attributes.address.city = "Busan"', {"kim"}),
    ('attributes.address.zip starts with "06"', {"kim"}),
    ('attributes.address.city.deeper = "Busan"', set()),
    ('attributes.address = "Busan"', set()),
    ('attributes.tags = "a"', set()),
    ('attributes.last-order >= "2024-01-01"', {"kim"}),
    ('attributes.missing = "x"', set()),
    ('not attributes.missing = "x"', EVERYONE),
])  # fmt: skip
def test_attributes_keep_their_json_types(select, text, expected):
    assert select(text) == expected


@pytest.mark.parametrize("text, expected", [
    ('language = "ja" or language = "ko" and is_test = true', {"sato"}),
    ('(language = "ja" or language = "ko") and is_test = false', {"kim"}),
    ('not language = "ko" and email is not empty', {"sato", "bob", "obrien"}),
    ('not (language = "ko" or language = "ja")', {"bob", "pat", "obrien"}),
    ('not not language = "ko"', {"kim"}),
    ('((language = "ko"))', {"kim"}),
    ('language = "ko" AND is_test = FALSE', {"kim"}),
    ('language = "en" Or language = "en-US"', {"bob", "pat"}),
    ('language = "ko"\n  and attributes.vip = true\n  and email ends with "@example.com"',
     {"kim"}),
])  # fmt: skip
def test_and_binds_tighter_than_or_and_not_tighter_than_and(select, text, expected):
    assert select(text) == expected


@pytest.mark.parametrize("value, equal_to, contained_in", [
    ("' OR 1=1 --", {"obrien"}, set()),
    ("o'brien' OR 1=1 --@x.com", {"obrien"}, set()),
    ("%", set(), {"obrien"}),
    ("_", set(), {"obrien"}),
    ("\\", set(), set()),
    ('"; DROP TABLE audiences_profile; --', set(), set()),
])  # fmt: skip
def test_values_are_parameters_never_sql(select, value, equal_to, contained_in):
    quoted = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    text = f"email = {quoted} or attributes.city = {quoted} or first_name contains {quoted}"
    compiled = compile_filter(text, connection.vendor)
    assert value in compiled.params
    assert set(re.findall(r"'[^']*'", compiled.sql)) <= FIXED_SQL_LITERALS
    assert select(f"email = {quoted} or attributes.city = {quoted}") == equal_to
    assert select(f"first_name contains {quoted}") == contained_in


def test_attribute_keys_travel_as_parameters():
    for vendor in ("sqlite", "postgresql"):
        compiled = compile_filter('attributes.secret_key-1 = "x"', vendor)
        assert "secret_key-1" not in compiled.sql


def test_the_largest_filter_allowed_still_runs(select):
    """The limits on conditions and values keep SQLite under its depth and parameter caps."""
    cities = ", ".join(f'"city {n}"' for n in range(24))  # 300 conditions, 5000 values:
    conditions = [f'attributes.address.city in ({cities}, "Busan")'] * 100 + [
        f"not (first_name in ({cities}) and attributes.age > {n})" for n in range(100)]
    assert select(" or ".join(conditions)) == EVERYONE


def test_blank_filter_means_everyone(select):
    assert compile_filter("  \n ", "postgresql") == CompiledFilter("1=1", [])
    assert select("") == EVERYONE


@pytest.mark.parametrize("text, line, column, message", [
    ("email > 3", 1, 9, "email is text; compare it with a string"),
    ('is_test = "x"', 1, 11, "expected true or false"),
    ('is_test > true', 1, 9, "is_test is true or false; compare it with = or !="),
    ('frist_name = "a"', 1, 1,
     'unknown field "frist_name"; known fields: email, phone, first_name, last_name'),
    ('email = "abc', 1, 9, 'unterminated string'),
    ('email = "a" "b"', 1, 13, "unexpected the string \"b\": join with and/or"),
    ('email = "a" )', 1, 13, 'unexpected ")": it has no matching ('),
    ('(email = "a"', 1, 13, "expected ) to close the ( at line 1, column 1"),
    ("email", 1, 6, "expected an operator after email"),
    ("language = ko", 1, 12, 'expected a value; text goes in double quotes, as in "ko"'),
    ("email = ", 1, 9, 'expected a value (a "string", a number, true, false or null)'),
    ('email == "a"', 1, 7, "use = to compare, not =="),
    ("email = 'a'", 1, 9, 'strings use double quotes: "like this"'),
    ('email = "a\\q"', 1, 11, "unknown escape"),
    ('email contains 3', 1, 16, "expected a string after contains"),
    ('email starts "a"', 1, 14, "expected with after starts"),
    ('email is "a"', 1, 10, "expected empty or not empty after is"),
    ("email not like", 1, 11, "expected in after not"),
    ("email in ()", 1, 11, "expected a value"),
    ('email in "a"', 1, 10, "expected ( after in"),
    ('email = null', 1, 9, 'email is text; compare it with a string; to find missing'),
    ('created_at > "yesterday"', 1, 14, "created_at needs an ISO date"),
    ('created_at contains "2024"', 1, 12, "created_at is a date"),
    ("id = 1.5", 1, 6, "id is a whole number"),
    ("id = 99999999999999999999", 1, 6, "number is too large"),
    ("attributes.age > true", 1, 18, "true can only be compared with = or !="),
    ("attributes.age < null", 1, 18, "null can only be compared with = or !="),
    ("attributes.1st = 1", 1, 12, 'attribute key "1st" must start with a letter'),
    ("attributes = 1", 1, 1, "name the attribute, as in attributes.city"),
    ('and = "x"', 1, 1, "expected a field name"),
    ('language = "ko" and', 1, 20, "expected a field name"),
    ('language = "ko" @', 1, 17, 'unexpected character "@"'),
    ('language = "ko"\nand email > 3', 2, 13, "email is text"),
    ('(((\n  not email = 1', 2, 15, "email is text"),
    ("(" * 60 + 'email = "a"' + ")" * 60, 1, 51, "nested more than 50 levels"),
    ("id in (" + "1, " * 5000 + "2)", 1, 15008, "at most 5000 values; use a static list"),
    ('email = "a" or ' * 300 + 'email = "b"', 1, 4501, "at most 300 conditions"),
])  # fmt: skip
def test_mistakes_are_located(text, line, column, message):
    with pytest.raises(FilterError) as caught:
        check_filter(text)
    error = caught.value
    assert (error.line, error.column) == (line, column), str(error)
    assert message in error.message
    assert str(error) == f"line {line}, column {column}: {error.message}"
    earlier_lines = text.split("\n")[: line - 1]
    assert error.position == sum(len(earlier) + 1 for earlier in earlier_lines) + column - 1


def test_compile_reports_the_same_mistakes_as_check():
    with pytest.raises(FilterError, match="line 1, column 9: email is text"):
        compile_filter("email > 3", "sqlite")


def test_unsupported_vendor_and_alias_are_programming_errors():
    with pytest.raises(ValueError, match="sqlite or postgresql"):
        compile_filter('email = "a"', "oracle")
    with pytest.raises(ValueError, match="alias"):
        compile_filter('email = "a"', "sqlite", alias="p; DROP TABLE x")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=120))
def test_random_text_raises_only_filter_errors(text):
    for vendor in ("sqlite", "postgresql"):
        with contextlib.suppress(FilterError):
            compile_filter(text, vendor)


_FRAGMENTS = st.sampled_from([
    "email", "first_name", "is_test", "created_at", "id", "attributes.age", "attributes.vip",
    "attributes.address.city", "attributes.tags", "=", "!=", "<", ">=", "in", "not", "and",
    "or", "contains", "starts with", "is empty", "is not empty", "(", ")", ",", '"Seoul"',
    '"2024-03-01"', '"%"', "30", "7.5", "-1", "true", "false", "null",
])  # fmt: skip


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_FRAGMENTS, max_size=12).map(" ".join))
def test_every_filter_that_compiles_also_runs(select, text):
    """Near-valid token soup: whatever compiles must run without a database error."""
    try:
        compile_filter(text, connection.vendor)
    except FilterError:
        return
    assert select(text) <= EVERYONE
