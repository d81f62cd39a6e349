"""``envoi dkim``: the contract names, the zone-file lines, rotation, errors."""

from __future__ import annotations

import re

import pytest

from envoi.accounts.models import AuditEntry
from envoi.cli import main
from envoi.sending.email.models import DkimKey

pytestmark = pytest.mark.django_db


def test_create_prints_zone_file_lines(capsys):
    assert main(["dkim", "create", "shop.example.com", "--selector", "s1"]) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if not line.startswith(";")]
    assert len(lines) == 2
    rsa_line, ed_line = lines
    assert re.fullmatch(r's1-rsa\._domainkey\.shop\.example\.com\. IN TXT '
                        r'"v=DKIM1; k=rsa; p=[A-Za-z0-9+/]+" "[A-Za-z0-9+/=]+"', rsa_line)
    assert re.fullmatch(r's1-ed25519\._domainkey\.shop\.example\.com\. IN TXT '
                        r'"v=DKIM1; k=ed25519; p=[A-Za-z0-9+/]{43}="', ed_line)
    assert "PRIVATE" not in out
    assert AuditEntry.objects.filter(action="sending_domain.dkim_create").count() == 1


def test_rotate_and_retire(capsys):
    assert main(["dkim", "create", "shop.example.com", "--selector", "s1"]) == 0
    assert main(["dkim", "create", "shop.example.com", "--selector", "s2"]) == 0
    assert main(["dkim", "retire", "shop.example.com", "--selector", "s1"]) == 0
    capsys.readouterr()
    assert main(["dkim", "list", "shop.example.com"]) == 0
    out = capsys.readouterr().out
    assert out.count(" active") == 2 and out.count(" retired ") == 2
    assert set(DkimKey.objects.filter(retired_at__isnull=True)
               .values_list("selector", flat=True)) == {"s2-rsa", "s2-ed25519"}


def test_errors_are_clear(capsys):
    assert main(["dkim", "create", "shop example", "--selector", "s1"]) == 2
    assert "domain: 'shop example' is not a domain name" in capsys.readouterr().err
    assert main(["dkim", "retire", "shop.example.com", "--selector", "nope"]) == 2
    assert "has no active selector 'nope'" in capsys.readouterr().err
