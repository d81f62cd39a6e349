"""The bounce parser against a corpus of real-shaped bounces, complaints and
auto-replies (``tests/data/bounces``, labelled in ``labels.json``): every message must
be classified exactly as labelled (kind, address, failure type, reason).

Parsing needs no database: the rules administrators add are read from it, so the test
runs with an empty rule table.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from envoi.bounces.parsing import parse

CORPUS = Path(__file__).parents[1] / "data" / "bounces"
LABELS: dict[str, dict] = json.loads((CORPUS / "labels.json").read_text())
FIELDS = ("kind", "address", "type", "reason")

pytestmark = pytest.mark.django_db


def classify(name: str) -> dict[str, str]:
    parsed = parse((CORPUS / name).read_bytes())
    return {"kind": parsed.kind, "address": parsed.address, "type": parsed.failure_type,
            "reason": parsed.reason}


def test_the_corpus_is_large_and_labelled():
    files = sorted(str(p.relative_to(CORPUS)) for p in CORPUS.rglob("*.eml"))
    assert files == sorted(LABELS), "every message has a label, every label a message"
    assert len(files) >= 100
    sources = {name.split("/")[0] for name in files}
    assert {"postfix", "exim", "sendmail", "exchange", "gmail", "yahoo", "qmail",
            "autoreply", "arf", "korean", "japanese", "ses", "policy", "multi",
            "real"} <= sources


def test_classification_accuracy_is_100_percent(capsys):
    wrong = {}
    for name, label in sorted(LABELS.items()):
        got, expected = classify(name), {key: label[key] for key in FIELDS}
        if got != expected:
            wrong[name] = {"expected": expected, "got": got}
    right = len(LABELS) - len(wrong)
    with capsys.disabled():
        print(f"\nbounce corpus: {right}/{len(LABELS)} classified correctly "
              f"({100 * right / len(LABELS):.1f}% accuracy)")
    assert not wrong, json.dumps(wrong, indent=1, ensure_ascii=False)


@pytest.mark.parametrize("name", sorted(LABELS))
def test_the_return_path_is_found(name):
    """Every message of the corpus names the return path it answers (the envelope,
    a delivery header or the returned original)."""
    parsed = parse((CORPUS / name).read_bytes())
    assert any(rp.startswith("b-") and rp.endswith("@bounces.shop.example.com")
               for rp in parsed.return_paths), parsed.return_paths


@pytest.mark.parametrize("name", sorted(n for n, label in LABELS.items()
                                        if n.startswith(("korean/", "japanese/"))
                                        and label["kind"] == "bounce"))
def test_korean_and_japanese_notices_are_read_from_their_own_words(name):
    """These notices carry no reply or status code: the reason comes from the text."""
    parsed = parse((CORPUS / name).read_bytes())
    assert parsed.status_code == ""
    assert parsed.reason == LABELS[name]["reason"]


MULTI = sorted(name for name, label in LABELS.items() if "recipients" in label)


def test_each_recipient_of_a_report_is_read_from_its_own_diagnostic(capsys):
    """A report about several recipients gives each its own reading: one recipient's
    diagnostic never lends its failure type to another."""
    assert len(MULTI) >= 3
    lines, wrong = [], {}
    for name in MULTI:
        parsed = parse((CORPUS / name).read_bytes())
        got = {r.address: [r.failure_type, r.reason] for r in parsed.recipients}
        lines += [f"  {name}: {address} -> {'/'.join(reading)}"
                  for address, reading in got.items()]
        if got != LABELS[name]["recipients"]:
            wrong[name] = {"expected": LABELS[name]["recipients"], "got": got}
    with capsys.disabled():
        print("\nper-recipient readings of multi-recipient reports:")
        print("\n".join(lines))
    assert not wrong, json.dumps(wrong, indent=1)


@pytest.mark.parametrize("name", MULTI)
def test_a_row_takes_the_reading_of_its_own_recipient(name):
    """What ingest applies to a sending-log row is its own address's reading."""
    parsed = parse((CORPUS / name).read_bytes())
    for address, (failure_type, reason) in LABELS[name]["recipients"].items():
        own = parsed.about(address)
        assert (own.address, own.failure_type, own.reason) == (address, failure_type, reason)
