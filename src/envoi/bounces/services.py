"""Bounce actions the API and the CLI share: role check, work, audit."""

from __future__ import annotations

import mailbox
import re
from collections import Counter
from pathlib import Path

from django.db import transaction

from envoi import clock
from envoi.accounts.services import Actor, audit, require
from envoi.bounces.ingest import receive
from envoi.bounces.models import QualificationRule
from envoi.bounces.qualification import FAILURE_TYPES, admin_rules


class RuleError(ValueError):
    """A qualification rule that cannot be used; the message says which field."""


def add_rule(user: Actor, *, failure_type: str, reason: str, smtp_code: int = 0,
             enhanced: str = "", pattern: str = "", priority: int = 100,
             note: str = "") -> QualificationRule:
    """An administrator adds a rule, tried before the built-in table; audited."""
    require(user, "qualification.manage")
    check_rule(failure_type, reason, smtp_code, enhanced, pattern)
    if "\x00" in note:
        raise RuleError("note: must not contain NUL characters.")
    with transaction.atomic():
        rule = QualificationRule.objects.create(
            failure_type=failure_type, reason=reason, smtp_code=smtp_code, enhanced=enhanced,
            pattern=pattern, priority=priority, note=note, created_at=clock.now(),
            created_by=user.get_username() if user is not None else "")
        audit(user, "qualification.add_rule", rule=rule.pk, failure_type=failure_type,
              reason=reason, smtp_code=smtp_code, enhanced=enhanced, pattern=pattern,
              priority=priority)
    admin_rules.invalidate()
    return rule


def delete_rule(user: Actor, rule: QualificationRule) -> None:
    require(user, "qualification.manage")
    with transaction.atomic():
        audit(user, "qualification.delete_rule", rule=rule.pk,
              failure_type=rule.failure_type, reason=rule.reason, smtp_code=rule.smtp_code,
              enhanced=rule.enhanced, pattern=rule.pattern)
        rule.delete()
    admin_rules.invalidate()


ENHANCED_RULE = re.compile(r"^[245]\.(\d{1,3}\.(\d{1,3})?)?$|^[245]\.$")
REASON = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def check_rule(failure_type: str, reason: str, smtp_code: int, enhanced: str,
               pattern: str) -> None:
    if failure_type not in FAILURE_TYPES:
        raise RuleError(f"failure_type: must be one of {', '.join(FAILURE_TYPES)}.")
    if not REASON.match(reason):
        raise RuleError("reason: lower-case letters, digits and '_', starting with a letter.")
    if smtp_code and not 200 <= smtp_code <= 599:
        raise RuleError("smtp_code: a reply code between 200 and 599, or 0 for any.")
    if enhanced and not ENHANCED_RULE.match(enhanced):
        raise RuleError("enhanced: an enhanced status code such as 5.1.1, or a prefix "
                        "ending in a dot such as 5.7.")
    if not (smtp_code or enhanced or pattern):
        raise RuleError("a rule needs at least one of smtp_code, enhanced and pattern.")
    if "\x00" in pattern:
        raise RuleError("pattern: must not contain NUL characters.")
    try:
        re.compile(pattern, re.IGNORECASE)
    except re.error as error:
        raise RuleError(f"pattern: not a regular expression ({error}).") from error


def import_mailbox(path: str | Path) -> Counter[str]:
    """Take in every message of an mbox file or a maildir directory (``envoi bounces
    import``); returns how many of each outcome."""
    location = Path(path)
    if not location.exists():
        raise FileNotFoundError("no such file or directory")
    box: mailbox.Mailbox = (mailbox.Maildir(location, factory=None, create=False)
                            if location.is_dir() else mailbox.mbox(location, create=False))
    outcomes: Counter[str] = Counter()
    try:
        for key in box.iterkeys():
            raw = box.get_bytes(key)
            sender = ""
            if isinstance(box, mailbox.mbox):
                sender = box.get_message(key).get_from().split(" ", 1)[0]
                sender = "" if sender == "MAILER-DAEMON" else sender
            outcomes[receive(raw, sender, [], source="import").outcome] += 1
    finally:
        box.close()
    return outcomes
