"""The ``envoi`` command, run in-process against the test database."""

from __future__ import annotations

import io

import pytest

from envoi.accounts.models import ApiToken, AuditEntry
from envoi.accounts.services import roles_of, user_for_token
from envoi.audiences.models import Profile
from envoi.audiences.terminal import ProgressBar
from envoi.cli import main
from tests.support.deliveries import boss, delivery_in

pytestmark = pytest.mark.django_db


def test_user_and_token(capsys):
    assert main(["user", "create", "carol", "--role", "start_deliveries",
                 "--role", "approve_deliveries"]) == 0
    capsys.readouterr()
    assert main(["token", "create", "carol"]) == 0
    token = capsys.readouterr().out
    assert token.endswith("\n") and token.count("\n") == 1, "the token and nothing else"
    user = user_for_token(token.strip())
    assert user is not None and user.username == "carol"
    assert {r.value for r in roles_of(user)} == {"start_deliveries", "approve_deliveries"}
    assert ApiToken.objects.filter(user=user).count() == 1


def test_unknown_user_for_token(capsys):
    assert main(["token", "create", "nobody"]) == 2
    assert capsys.readouterr().out == ""


def test_unknown_role_is_refused():
    with pytest.raises(SystemExit):
        main(["user", "create", "x", "--role", "superhero"])


def test_import_reports_bad_lines(tmp_path, capsys):
    csv = tmp_path / "people.csv"
    csv.write_text("email,language\nok@example.com,ko\nbad@example.com,not a tag\n")
    assert main(["profiles", "import", str(csv), "--audience", "vip"]) == 1
    captured = capsys.readouterr()
    assert "created 1, updated 0, skipped 0, rejected 1" in captured.out
    assert f"{csv}:3:" in captured.err
    entry = AuditEntry.objects.get(action="profile.import")
    assert entry.detail == {"imported": 1, "refused": 1, "audience": "vip", "created": 1,
                            "updated": 0, "skipped": 0, "rejected": 1, "mode": "update"}


def test_import_again_updates_with_declared_types(tmp_path, capsys):
    csv = tmp_path / "people.csv"
    csv.write_text("email,attributes.vip,attributes.code\nok@example.com,1,1\n")
    assert main(["profiles", "import", str(csv)]) == 0
    assert main(["profiles", "import", str(csv), "--type", "vip=boolean",
                 "--type", "attributes.code=string"]) == 0
    assert "created 0, updated 1, skipped 0, rejected 0" in capsys.readouterr().out
    assert Profile.objects.get().attributes == {"vip": True, "code": "1"}
    assert main(["profiles", "import", str(csv), "--mode", "skip"]) == 0
    assert "created 0, updated 0, skipped 1, rejected 0" in capsys.readouterr().out
    assert main(["profiles", "import", str(csv), "--type", "vip"]) == 2
    assert "write KEY=TYPE" in capsys.readouterr().err


def test_the_progress_bar_draws_on_a_terminal_only():
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    ticks = iter(range(0, 100))
    shown = Terminal()
    bar = ProgressBar(1000, shown, clock=lambda: next(ticks))
    bar(500)
    bar.finish()
    assert "[###############...............]  50% 500/1,000 rows" in shown.getvalue()
    assert shown.getvalue().endswith("100% 1,000/1,000 rows\n")
    quiet = io.StringIO()
    ProgressBar(10, quiet)(5)
    assert quiet.getvalue() == ""


def test_delivery_actions_check_roles(capsys):
    delivery = delivery_in("approved")
    boss()
    main(["user", "create", "prep", "--role", "prepare_deliveries"])
    assert main(["delivery", "confirm", str(delivery.pk), "--as", "prep"]) == 1
    assert "Your permissions do not allow you to confirm a delivery." in capsys.readouterr().err
    assert main(["delivery", "confirm", str(delivery.pk), "--as", "boss"]) == 0
    assert "in_progress" in capsys.readouterr().out
