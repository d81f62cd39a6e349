"""CSV files are read in one pass: a wide header costs its length, a bad line costs itself.

Every import here goes through the database of the pass (COPY on PostgreSQL,
``executemany`` on SQLite), so the rows kept around a bad line are the rows written.
"""

from __future__ import annotations

import io
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.utils import translation

from envoi.audiences import importer
from envoi.audiences.csvreading import detect_encoding
from envoi.audiences.importer import ImportFileError, import_profiles_csv
from envoi.audiences.models import Profile
from envoi.cli import main
from tests.support.api import Api

pytestmark = pytest.mark.django_db

KOREAN = [("kim@example.kr", "민준", "김"), ("lee@example.kr", "서연", "이"),
          ("park@example.kr", "지우", "박"), ("ddom@example.kr", "똠", "최")]  # 똠: CP949 only
JAPANESE = [("sato@example.jp", "さくら", "佐藤"), ("suzuki@example.jp", "陽翔", "鈴木"),
            ("takahashi@example.jp", "健太", "髙橋"),  # 髙: CP932 (IBM) only
            ("tanaka@example.jp", "ﾀﾛｳ", "田中")]  # fmt: skip


def names_file(people: list[tuple[str, str, str]]) -> str:
    return "email,first_name,last_name\n" + "".join(",".join(person) + "\n" for person in people)


def stored_names() -> set[tuple[str, str, str]]:
    return set(Profile.objects.values_list("email", "first_name", "last_name"))


def reasons(report) -> list[tuple[int, str]]:
    return [(error.line, error.reason) for error in report.errors]


# A wide header --------------------------------------------------------------------------


def wide_header(columns: int) -> str:
    return "email," + ",".join(f"attributes.c{n:04d}" for n in range(columns - 1))


def test_a_ten_thousand_column_header_is_read_in_linear_time(monkeypatch):
    monkeypatch.setenv("ENVOI_IMPORT_MAX_COLUMNS", "10000")
    header = wide_header(10_000)  # 170 KB: 24 s of CPU with a quadratic check
    row = "wide@example.com," + ",".join(str(n) for n in range(9_999))
    started = time.process_time()
    report = import_profiles_csv(io.BytesIO(f"{header}\n{row}\n".encode()))
    assert time.process_time() - started < 2
    assert report.imported == 1 and report.errors == []
    attributes = Profile.objects.get().attributes
    assert len(attributes) == 9_999 and attributes["c9998"] == 9998  # inferred: numbers


def test_a_late_clash_in_a_wide_header_is_found_in_linear_time(monkeypatch):
    monkeypatch.setenv("ENVOI_IMPORT_MAX_COLUMNS", "20000")
    header = wide_header(10_000) + ",attributes.c0000.zip"
    started = time.process_time()
    with pytest.raises(ImportFileError) as caught:
        import_profiles_csv(io.StringIO(header + "\n"))
    assert time.process_time() - started < 2
    assert str(caught.value) == ('Line 1 (the header): columns "attributes.c0000" and '
                                 '"attributes.c0000.zip" both set attributes.c0000.')


def test_the_header_check_looks_at_each_column_once(monkeypatch):
    """Counted, not timed: each name is checked once against the names seen, whatever the
    header's width (the quadratic check compared each with all those before it)."""
    checked = []
    dotted_prefixes = importer._dotted_prefixes
    monkeypatch.setattr(importer, "_dotted_prefixes",
                        lambda name: checked.append(name) or dotted_prefixes(name))
    for columns in (1_000, 4_000):
        checked.clear()
        import_profiles_csv(io.StringIO(wide_header(columns) + "\n"), column_limit=columns)
        assert len(checked) == columns


def test_the_column_cap_refuses_a_wider_header_and_names_itself(monkeypatch):
    with pytest.raises(ImportFileError) as caught:
        import_profiles_csv(io.StringIO(wide_header(1_001) + "\na@example.com\n"))
    assert str(caught.value) == ("Line 1 (the header) has 1001 columns, more than the limit "
                                 "of 1000 (ENVOI_IMPORT_MAX_COLUMNS).")
    monkeypatch.setenv("ENVOI_IMPORT_MAX_COLUMNS", "3")
    with pytest.raises(ImportFileError, match="has 4 columns, more than the limit of 3"):
        import_profiles_csv(io.StringIO("email,first_name,last_name,phone\n"))
    report = import_profiles_csv(io.StringIO("email,first_name,last_name\na@x.example,A,B\n"))
    assert report.imported == 1 and Profile.objects.count() == 1


# Quotes ---------------------------------------------------------------------------------


UNCLOSED = (
    "email,first_name,attributes.note\n"       # 1
    "a@example.com,A,first\n"                  # 2
    'b@example.com,B,"two\nlines"\n'           # 3-4
    'c@example.com,C,"never closed\n'          # 5
    "d@example.com,D,after\n"                  # 6
    "e@example.com,E,last"                     # 7 (no newline at the end)
)  # fmt: skip


@pytest.mark.parametrize("as_bytes", [False, True])
def test_an_unclosed_quote_is_an_error_at_its_line_and_the_other_rows_are_kept(as_bytes):
    stream = io.BytesIO(UNCLOSED.encode()) if as_bytes else io.StringIO(UNCLOSED)
    report = import_profiles_csv(stream, batch_size=2)
    assert reasons(report) == [(5, 'column "attributes.note": a quote opens here and is never '
                                   'closed (a quote inside a cell is written "")')]
    assert dict(Profile.objects.values_list("email", "attributes")) == {
        "a@example.com": {"note": "first"}, "b@example.com": {"note": "two\nlines"},
        "d@example.com": {"note": "after"}, "e@example.com": {"note": "last"}}


def test_an_unclosed_quote_in_a_big_file_costs_its_own_row_only():
    """Past the cell-size limit the quote is taken as never closed, and the lines it held
    are read again as rows."""
    rows = "".join(f"p{n}@example.com,P,{'x' * 60}\n" for n in range(3_000))  # 240 KB
    text = "email,first_name,attributes.note\nfirst@example.com,F,\n"
    text += 'open@example.com,"Open,x\n' + rows
    report = import_profiles_csv(io.BytesIO(text.encode()), batch_size=1_000)
    assert reasons(report) == [(3, 'column "first_name": a quote opens here and is never '
                                   'closed (a quote inside a cell is written "")')]
    assert report.imported == 3_001 == Profile.objects.count()
    assert not Profile.objects.filter(email="open@example.com").exists()


def test_a_cell_past_the_size_limit_costs_its_own_row_only():
    text = ("email,attributes.note\n"
            f"long@example.com,{'x' * 200_000}\n"
            f'quoted@example.com,"{"y" * 200_000}"\n'
            "after@example.com,fine\n")  # fmt: skip
    report = import_profiles_csv(io.BytesIO(text.encode()))
    assert reasons(report) == [(2, "a cell is longer than 131072 characters"),
                               (3, "a cell is longer than 131072 characters")]
    assert list(Profile.objects.values_list("email", flat=True)) == ["after@example.com"]


def test_an_unclosed_quote_in_the_header_refuses_the_file():
    with pytest.raises(ImportFileError, match=r'^Line 1 \(the header\) cannot be read: column '
                                              r'"#2": a quote opens here and is never closed'):
        import_profiles_csv(io.StringIO('email,"first_name\na@example.com,A\n'))
    assert Profile.objects.count() == 0


# Encoding errors ------------------------------------------------------------------------


def utf8_file_with_one_latin1_line(rows: int, bad_at: int) -> bytes:
    """UTF-8 profiles, one of which (at physical line ``bad_at``) was saved as Latin-1."""
    lines = [b"email,first_name,last_name\n"]
    for n in range(2, rows + 2):
        if n == bad_at:
            lines.append("bad@example.com,Ren\u00e9,Caf\u00e9\n".encode("latin-1"))
        else:
            lines.append(f"u{n}@example.com,지우{n},佐藤\n".encode())
    return b"".join(lines)


@pytest.mark.parametrize("encoding", [None, "utf-8"])
def test_an_encoding_error_is_reported_at_its_line_and_every_other_line_is_kept(encoding):
    raw = utf8_file_with_one_latin1_line(rows=3_000, bad_at=1_500)
    report = import_profiles_csv(io.BytesIO(raw), encoding=encoding, batch_size=700)
    how = "detected" if encoding is None else "given"
    assert reasons(report) == [(1_500, f'column "first_name": byte 0xE9 at position 20 is not '
                                       f"UTF-8 text (the encoding {how}). If the file has "
                                       f"another encoding, give it: UTF-8, EUC-KR (CP949), "
                                       f"Shift_JIS (CP932).")]
    assert report.imported == 2_999 == Profile.objects.count()
    assert Profile.objects.get(email="u1501@example.com").first_name == "지우1501"
    assert Profile.objects.get(email="u3001@example.com").last_name == "佐藤"
    assert not Profile.objects.filter(email="bad@example.com").exists()


def test_a_bad_byte_inside_a_multiline_cell_is_reported_on_its_own_line():
    raw = (b"email,attributes.note\n"           # 1
           b'a@example.com,"one\n'              # 2
           b"tw\xff\n"                          # 3
           b'three"\n'                          # 4
           b"b@example.com,fine\n")             # 5  # fmt: skip
    report = import_profiles_csv(io.BytesIO(raw), encoding="utf-8")
    [(line, reason)] = reasons(report)
    assert line == 3 and reason.startswith('column "attributes.note": byte 0xFF at position 3')
    assert list(Profile.objects.values_list("email", flat=True)) == ["b@example.com"]


def test_a_header_in_another_encoding_is_refused_with_a_hint():
    raw = "이메일,이름\n".encode("cp949")
    with pytest.raises(ImportFileError) as caught:
        import_profiles_csv(io.BytesIO(raw), encoding="utf-8")
    assert str(caught.value).startswith('Line 1 (the header) cannot be read: column "#1": '
                                        "byte 0xC0 at position 1 is not UTF-8 text")
    assert "give it: UTF-8, EUC-KR (CP949), Shift_JIS (CP932)" in str(caught.value)


def test_an_unknown_or_utf16_encoding_is_refused_with_the_choices():
    with pytest.raises(ImportFileError, match=r'^Unknown encoding "latin-9": give one of '
                                              r"UTF-8, EUC-KR \(CP949\), Shift_JIS \(CP932\)"):
        import_profiles_csv(io.BytesIO(b"email\n"), encoding="latin-9")
    utf16 = "email\na@example.com\n".encode("utf-16")
    with pytest.raises(ImportFileError, match="The file is UTF-16 or UTF-32 text: save it as "
                                              "UTF-8"):
        import_profiles_csv(io.BytesIO(utf16))


# Korean and Japanese files --------------------------------------------------------------


@pytest.mark.parametrize("people, codec, encoding", [
    (KOREAN, "cp949", "euc-kr"), (KOREAN, "cp949", "CP949"), (KOREAN, "cp949", None),
    (JAPANESE, "cp932", "shift_jis"), (JAPANESE, "cp932", "cp932"), (JAPANESE, "cp932", None),
    (KOREAN + JAPANESE, "utf-8", None), (KOREAN + JAPANESE, "utf-8-sig", "utf-8"),
])  # fmt: skip
def test_korean_and_japanese_files_are_imported_given_or_detected(people, codec, encoding):
    raw = names_file(people).encode(codec)
    report = import_profiles_csv(io.BytesIO(raw), encoding=encoding)
    assert report.errors == [] and report.imported == len(people)
    assert stored_names() == set(people)


def test_the_detector_tells_korean_from_japanese_in_short_files():
    """Random one- to three-row files of everyday names, each read in its own encoding."""
    korean_given = ["민준", "서연", "지우", "하은", "도윤", "서준", "예은", "시우", "수빈"]
    korean_family = list("김이박최정강조윤장임한오서신권황안송류홍")
    japanese_given = ["さくら", "陽翔", "結衣", "蓮", "ひなた", "健太", "美咲", "ユウキ", "ﾀﾛｳ"]
    japanese_family = ["佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "髙橋", "斎藤"]
    rng = random.Random(14)
    for _ in range(300):
        size = rng.randint(1, 3)
        korean = [(f"k{n}@x.kr", rng.choice(korean_given), rng.choice(korean_family))
                  for n in range(size)]
        japanese = [(f"j{n}@x.jp", rng.choice(japanese_given), rng.choice(japanese_family))
                    for n in range(size)]
        assert detect_encoding(names_file(korean).encode("cp949")) == "cp949", korean
        assert detect_encoding(names_file(japanese).encode("cp932")) == "cp932", japanese
        assert detect_encoding(names_file(korean + japanese).encode()) == "utf-8"


def test_a_detected_file_whose_first_rows_are_ascii_still_finds_its_encoding():
    """The sample read for detection goes on past 64 KiB until a byte that is not ASCII."""
    ascii_rows = "".join(f"a{n}@example.com,A,B\n" for n in range(5_000))  # 120 KB
    text = names_file(JAPANESE).replace("email,first_name,last_name\n",
                                        "email,first_name,last_name\n" + ascii_rows)
    report = import_profiles_csv(io.BytesIO(text.encode("cp932")))
    assert report.errors == [] and report.imported == 5_000 + len(JAPANESE)
    assert set(JAPANESE) <= stored_names()


# Messages in the reader's language ------------------------------------------------------


@pytest.mark.parametrize("language, quote, cap, encoding, row", [
    ("ko", '"attributes.note" 열: 여기서 연 따옴표가 닫히지 않았습니다', "열 제한 3개",
     "UTF-8 텍스트가 아닙니다", 'is_test 값은 true, false, 1, 0, yes, no 중 하나여야 합니다'
     '(비어 있으면 false). 받은 값: "maybe"'),
    ("ja", "「attributes.note」列: ここで開いた引用符が閉じられていません", "上限 3 列",
     "UTF-8 のテキストではありません", "is_test は true、false、1、0、yes、no のいずれかで"
     'なければなりません（空は false）。値: "maybe"'),
])  # fmt: skip
def test_import_errors_are_translated(language, quote, cap, encoding, row, monkeypatch):
    with translation.override(language):
        report = import_profiles_csv(io.BytesIO(UNCLOSED.encode()))
        assert report.errors[0].line == 5 and quote in report.errors[0].reason
        raw = b"email,attributes.note\nok@example.com,x\nbad@example.com,\xff\n"
        report = import_profiles_csv(io.BytesIO(raw), encoding="utf-8")
        assert report.errors[0].line == 3 and encoding in report.errors[0].reason
        monkeypatch.setenv("ENVOI_IMPORT_MAX_COLUMNS", "3")
        with pytest.raises(ImportFileError, match=cap):
            import_profiles_csv(io.StringIO("email,first_name,last_name,phone\n"))
        report = import_profiles_csv(io.StringIO("email,is_test\nx@example.com,maybe\n"))
        assert report.errors[0].line == 2 and report.errors[0].reason == row


# The faces: API and CLI -----------------------------------------------------------------


@pytest.fixture
def api():
    return Api("importer", "import")


def test_the_api_takes_an_encoding_parameter_or_the_charset_or_detects(api):
    korean = names_file(KOREAN).encode("cp949")
    japanese = names_file(JAPANESE).encode("cp932")
    assert api.ok(api.post("/profiles/import?encoding=euc-kr", korean,
                           content_type="text/csv"))["imported"] == len(KOREAN)
    # the test client encodes a text body in the charset it is given
    assert api.ok(api.post("/profiles/import", names_file(JAPANESE),
                           content_type="text/csv; charset=cp932"))["imported"] == 4
    Profile.objects.all().delete()
    assert api.ok(api.post("/profiles/import", korean, content_type="text/csv"))["imported"] == 4
    assert api.ok(api.post("/profiles/import", japanese, content_type="text/csv"))["imported"] == 4
    assert stored_names() == set(KOREAN + JAPANESE)


def test_the_api_refuses_an_unknown_encoding_or_too_many_columns(api):
    response = api.post("/profiles/import?encoding=latin-9", b"email\n", content_type="text/csv")
    assert response.status_code == 400
    assert response.json()["detail"].startswith('CSV: Unknown encoding "latin-9"')
    response = api.post("/profiles/import", wide_header(1_001).encode(), content_type="text/csv")
    assert response.status_code == 400 and "ENVOI_IMPORT_MAX_COLUMNS" in response.json()["detail"]


def test_the_api_reports_an_encoding_error_at_its_line_and_keeps_the_rest(api):
    raw = utf8_file_with_one_latin1_line(rows=3_000, bad_at=1_500)
    report = api.ok(api.post("/profiles/import", raw, content_type="text/csv"))
    assert report["imported"] == 2_999 and [e["line"] for e in report["errors"]] == [1_500]
    assert Profile.objects.filter(email="u3001@example.com").exists()


def test_the_cli_takes_an_encoding_option(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LANG", "C.UTF-8")
    korean, japanese = tmp_path / "ko.csv", tmp_path / "ja.csv"
    korean.write_bytes(names_file(KOREAN).encode("cp949"))
    japanese.write_bytes(names_file(JAPANESE).encode("cp932"))
    assert main(["profiles", "import", str(korean), "--encoding", "euc-kr"]) == 0
    assert main(["profiles", "import", str(japanese), "--encoding", "shift_jis"]) == 0
    assert stored_names() == set(KOREAN + JAPANESE)
    capsys.readouterr()
    assert main(["profiles", "import", str(korean), "--encoding", "utf-8"]) == 1
    err = capsys.readouterr().err
    assert f"{korean}:2: column \"first_name\": byte 0xB9 at position 16 is not UTF-8" in err


def test_the_cli_speaks_the_terminal_language(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LANG", "ja_JP.UTF-8")
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.delenv("LC_MESSAGES", raising=False)
    monkeypatch.setenv("ENVOI_IMPORT_MAX_COLUMNS", "1")
    path = tmp_path / "wide.csv"
    path.write_text("email,first_name\n")
    assert main(["profiles", "import", str(path)]) == 2
    assert "上限 1 列" in capsys.readouterr().err


# The benchmark stays runnable -----------------------------------------------------------


def test_the_header_benchmark_runs():
    bench = Path(__file__).resolve().parents[2] / "bench" / "csvheader.py"
    env = {k: v for k, v in os.environ.items() if k != "ENVOI_DATABASE_URL"}
    result = subprocess.run([sys.executable, str(bench), "--columns", "500", "--rows", "200",
                             "--repeat", "1"], env=env, capture_output=True, text=True,
                            timeout=120, check=True)
    assert re.fullmatch(r"envoi-csv-header: 500 columns in [\d.]+ ms CPU, 1000 in [\d.]+ ms "
                        r"\(x[\d.]+\); rows read at [\d,]+/s \(UTF-8\), [\d,]+/s \(CP949\)",
                        result.stdout.strip().splitlines()[-1])
