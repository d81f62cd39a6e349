"""The consent lifecycle: the only code that writes ``Consent.status``.

Each move is one conditional ``UPDATE … WHERE status IN (…)``, like the delivery
lifecycle: a confirmation link followed twice, or a withdrawal racing a confirmation,
leaves exactly one winner, and the loser gets :class:`InvalidTransition`.

::

    none ──request──▶ pending ──confirm──▶ granted
      │                  │                    │
      └──────grant───────┴───────grant───────▶│ (import, API, console)
    any ──withdraw──▶ withdrawn ──request / grant──▶ …
"""

from __future__ import annotations

from dataclasses import dataclass

from envoi import clock
from envoi.consent.models import Consent, ConsentStatus

S = ConsentStatus
ANY = frozenset(S)


@dataclass(frozen=True)
class Move:
    sources: frozenset[str]
    target: str


MOVES: dict[str, Move] = {
    # A form asks for consent; a profile that already consents keeps it (someone else
    # typing your address must not make you unsendable until you click).
    "request": Move(frozenset({S.NONE, S.PENDING, S.WITHDRAWN}), S.PENDING),
    # The confirmation link of a double opt-in; again on a granted consent adds the
    # lists chosen on a later form.
    "confirm": Move(frozenset({S.PENDING, S.GRANTED}), S.GRANTED),
    # Consent given directly: an import of consenting profiles, the API, the console.
    "grant": Move(ANY, S.GRANTED),
    "withdraw": Move(ANY, S.WITHDRAWN),
}


class InvalidTransition(Exception):
    """The consent is not in a state that allows the move; nothing changed."""

    def __init__(self, consent_id: int, move: str, status: str):
        self.consent_id, self.move, self.status = consent_id, move, status
        super().__init__(f"Consent {consent_id} is {status}: it cannot {move}.")


def apply(consent: Consent, move: str, source: str) -> Consent:
    """Move ``consent`` along ``move``, atomically; the caller records the event."""
    rule = MOVES[move]
    now = clock.now()
    changed = Consent.objects.filter(pk=consent.pk, status__in=rule.sources).update(
        status=rule.target, source=source, updated_at=now)
    if not changed:
        current = Consent.objects.filter(pk=consent.pk).values_list("status", flat=True)
        raise InvalidTransition(consent.pk, move, current.first() or "deleted")
    consent.status, consent.source, consent.updated_at = rule.target, source, now
    return consent
