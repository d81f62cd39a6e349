"""Delivery actions: the one core that the API, the CLI and the console call.

Every function checks the actor's role, moves the delivery through
:mod:`envoi.deliveries.lifecycle`, and writes the audit log.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Q

from envoi import clock
from envoi.accounts.services import Actor, audit, permitted_actions, require
from envoi.audiences.models import Audience
from envoi.content import authoring
from envoi.deliveries import lifecycle, recurring, scheduling
from envoi.deliveries.availability import ActionRules, has_sent
from envoi.deliveries.content import (
    audience_definition,
    content_hash,
    snapshot_drift,
)
from envoi.deliveries.models import Delivery, PreparationMessage, Status
from envoi.preparation.models import ExclusionLog
from envoi.sending.models import SendingLog, SendStatus

# Fields whose change voids a preparation and its approval (SPEC §2): what is sent, to
# whom, and when.
SCHEDULE_FIELDS = frozenset({"contact_date", "time_zone", "recipient_time_zone",
                             "recurrence"})
# How the content is written, and its language variants (envoi.content).
AUTHORING_FIELDS = frozenset({"content_mode", "preheader", "mjml_body", "visual_project",
                              "variants"})
CONTENT_FIELDS = frozenset({"channel", "sender", "reply_to", "subject", "html_body",
                            "text_body", "audience", "audience_id", "is_marketing",
                            "require_consent", "max_parts", "track_links",
                            "typology"}) | SCHEDULE_FIELDS | (
    AUTHORING_FIELDS)
# Fields that may change at any time, even while sending: a throttle can be tightened.
ALWAYS_EDITABLE = frozenset({"label", "rate_limit"})
EDITABLE_FIELDS = CONTENT_FIELDS | ALWAYS_EDITABLE | {
    "approval_required", "max_retries", "retry_delay_seconds", "validity_hours"}


CHANGED_WHILE_REVIEWED = ("The delivery was prepared again while you reviewed it: review "
                          "it again before approving.")
REASON_REQUIRED = "reason: say why the delivery is rejected."
MAX_REASON_LENGTH = 2000
RECURRING_CHANGED = ("The recurring delivery changed since it was approved: its runs wait "
                     "for a new approval.")


class DeliveryError(ValueError):
    """A request the delivery cannot honour as it stands; faces answer 400/409."""


class LedgerKept(lifecycle.InvalidTransition):
    """A delivery that has sent anything keeps its ledger: it is archived, not deleted."""

    def __init__(self, delivery_id: int, status: str):
        super().__init__(delivery_id, "be deleted", status)
        self.args = (f"Delivery {delivery_id} has sent messages: it cannot be deleted, "
                     "because its sending log, tracking and unsubscribe links must keep "
                     "working. Archive it to hide it from lists.",)


def _act(user: Actor, action: str, delivery: Delivery) -> None:
    require(user, f"delivery.{action}", delivery_id=delivery.pk)


def require_before_lookup(user: Actor, action: str, delivery_id: int) -> None:
    """Check ``action`` on the delivery a face was asked about *before* looking it up:
    a refused user then gets the same answer whether the id exists or not."""
    require(user, action, delivery_id=delivery_id if 0 < delivery_id < 2**63 else None)


def validate_fields(fields: dict[str, Any], channel: str = Delivery.EMAIL) -> None:
    """Refuse what could never become a valid header, naming the field."""
    from envoi.sending.mime import HeaderValueError, parse_mailbox

    unknown = set(fields) - EDITABLE_FIELDS
    if unknown:
        raise DeliveryError(f"Unknown delivery fields: {', '.join(sorted(unknown))}")
    channel = fields.get("channel") or channel
    if "typology" in fields:
        from envoi.preparation.rules import TypologyError, clean_typology

        try:
            fields["typology"] = clean_typology(fields["typology"] or [])
        except TypologyError as error:
            raise DeliveryError(str(error)) from error
    if channel not in dict(Delivery.CHANNEL_CHOICES):
        raise DeliveryError(f"channel: {channel!r} is not a channel (email or sms)")
    if channel == Delivery.SMS:  # the SMS sender is a number or a name, not a mailbox
        from envoi.preparation.sms import sender_problem

        problem = sender_problem(fields["sender"]) if fields.get("sender") else None
        if problem:
            raise DeliveryError(problem)
        fields = {k: v for k, v in fields.items() if k not in ("sender", "reply_to")}
    for name in ("sender", "reply_to"):
        if fields.get(name):
            try:
                parse_mailbox(fields[name], name)
            except HeaderValueError as error:
                raise DeliveryError(str(error)) from error
    subject = fields.get("subject") or ""
    if "\r" in subject or "\n" in subject:
        raise DeliveryError("subject: contains a line break (CR/LF)")
    # Liquid and MJML problems do not refuse the save: a draft keeps its work, and they
    # are findings that block preparation (envoi.content.checks).
    if "variants" in fields:
        try:
            fields["variants"] = authoring.clean_variants(fields["variants"] or [])
        except authoring.ContentError as error:
            raise DeliveryError(str(error)) from error


def create(user: Actor, **fields: Any) -> Delivery:
    require(user, "delivery.create")
    validate_fields(fields)
    fields = _schedule(None, fields)
    spec = fields.pop("recurrence", None)
    variants = fields.pop("variants", None)
    with transaction.atomic():
        delivery = Delivery.objects.create(created_by=_user_or_none(user), **fields)
        recurring.save_spec(delivery, spec)
        if variants:
            authoring.save_variants(delivery, variants)
        authoring.refresh_compiled(delivery)
        audit(user, "delivery.create", delivery_id=delivery.pk, label=delivery.label)
    return delivery


def _schedule(delivery: Delivery | None, fields: dict[str, Any]) -> dict[str, Any]:
    """Contact date and recurrence as stored: a naive contact date is wall-clock time in
    the time zone, and a new time zone alone keeps the contact date's wall-clock time."""
    fields = dict(fields)
    old_zone = delivery.time_zone if delivery else "UTC"
    time_zone = fields.get("time_zone", old_zone)
    try:
        tz = scheduling.zone(time_zone)
        if fields.get("contact_date") is not None:
            fields["contact_date"] = scheduling.as_instant(fields["contact_date"], tz)
        elif "contact_date" not in fields and delivery and delivery.contact_date:
            wall = scheduling.wall_clock(delivery.contact_date,
                                         scheduling.zone_or(old_zone, tz))
            fields["contact_date"] = scheduling.localize(wall, tz)
        if fields.get("recurrence") is not None:
            fields["recurrence"] = recurring.spec_from(fields["recurrence"], time_zone)
    except scheduling.ScheduleError as error:
        raise DeliveryError(str(error)) from error
    _check_schedule_shape(delivery, fields)
    return fields


def _check_schedule_shape(delivery: Delivery | None, fields: dict[str, Any]) -> None:
    has_recurrence = (fields["recurrence"] is not None if "recurrence" in fields
                      else bool(delivery and delivery.is_recurring))
    has_date = (fields["contact_date"] is not None if "contact_date" in fields
                else bool(delivery and delivery.contact_date))
    if has_recurrence and has_date:
        raise DeliveryError("contact_date: a recurring delivery runs on its schedule; "
                            "give either a contact date or a recurrence")
    if has_recurrence and delivery is not None and delivery.parent_id:
        raise DeliveryError("recurrence: an execution of a recurring delivery cannot "
                            "have a schedule of its own")


def update(user: Actor, delivery: Delivery, **changes: Any) -> Delivery:
    """Edit a delivery; a change of content, audience or sender returns it to Editing."""
    _act(user, "edit", delivery)  # outside the transaction: a refusal stays audited
    validate_fields(changes, delivery.channel)
    if delivery.status not in lifecycle.EDITABLE_STATES and not (
            changes.keys() <= ALWAYS_EDITABLE):
        raise lifecycle.InvalidTransition(delivery.pk, "edit", delivery.status)
    changes = _schedule(delivery, changes)
    changed = {k: v for k, v in changes.items() if _value(delivery, k) != _id_of(v)}
    with transaction.atomic():
        if "recurrence" in changed:
            recurring.save_spec(delivery, changed["recurrence"])
        if "variants" in changed:
            authoring.save_variants(delivery, changed["variants"])
        columns = {k: v for k, v in changed.items() if k not in ("recurrence", "variants")}
        for name, value in columns.items():
            setattr(delivery, name, value)
        delivery.save(update_fields=[_column(name) for name in columns] + ["updated_at"])
        if AUTHORING_FIELDS & changed.keys() or {"html_body", "text_body"} & changed.keys():
            authoring.refresh_compiled(delivery)
        if CONTENT_FIELDS & changed.keys() and delivery.status != Status.EDITING:
            discard_preparation(delivery)
            lifecycle.apply(delivery, "edit", approval={}, prepared_hash="")
        audit(user, "delivery.edit", delivery_id=delivery.pk, fields=sorted(changed))
    return delivery


def _column(name: str) -> str:
    return "audience" if name == "audience_id" else name


def _value(delivery: Delivery, name: str) -> Any:
    if name == "recurrence":
        return recurring.spec_of(delivery)
    if name == "variants":
        return authoring.variant_dicts(delivery)
    return getattr(delivery, "audience_id" if name == "audience" else name)


def _id_of(value: Any) -> Any:
    return value.pk if isinstance(value, Audience) else value


def _user_or_none(user: Actor) -> Any:
    return user if user is not None and getattr(user, "is_authenticated", False) else None


def discard_preparation(delivery: Delivery) -> None:
    SendingLog.objects.filter(delivery=delivery).delete()
    ExclusionLog.objects.filter(delivery=delivery).delete()
    PreparationMessage.objects.filter(delivery=delivery).delete()
    Delivery.objects.filter(pk=delivery.pk).update(targeted=0, to_deliver=0, exclusions={},
                                                   variant_counts={}, log_first_id=None,
                                                   log_last_id=None)


def delete(user: Actor, delivery: Delivery) -> None:
    """Delete a delivery that never sent anything; one that has keeps its ledger (its
    links and its recipients' history) and can only be archived."""
    _act(user, "delete", delivery)
    sending = Delivery.objects.filter(parent=delivery,
                                      status__in=lifecycle.SENDING_STATES).first()
    if delivery.status in lifecycle.SENDING_STATES or sending is not None:
        status = delivery.status if sending is None else f"{sending.status} (execution)"
        raise lifecycle.InvalidTransition(delivery.pk, "be deleted", status)
    if has_sent(delivery):
        raise LedgerKept(delivery.pk, delivery.status)
    from envoi.tracking.services import forget_links

    audit(user, "delivery.delete", delivery_id=delivery.pk, label=delivery.label)
    gone = [delivery.pk, *Delivery.objects.filter(parent=delivery).values_list("pk", flat=True)]
    with transaction.atomic():
        discard_preparation(delivery)
        delivery.delete()
        # Its links stop redirecting in this process now, in others within the link
        # cache's age (envoi.tracking.services).
        transaction.on_commit(lambda: [forget_links(pk) for pk in gone])


def prepare(user: Actor, delivery: Delivery) -> Delivery:
    from envoi.preparation.services import prepare_delivery

    _act(user, "prepare", delivery)
    lifecycle.apply(delivery, "prepare", approval={})
    try:
        delivery = prepare_delivery(delivery)
    except Exception:
        # Never leave a delivery stuck in Preparing: it can be prepared again.
        lifecycle.apply(delivery, "preparation_failed", prepared_hash="")
        raise
    audit(user, "delivery.prepare", delivery_id=delivery.pk, status=delivery.status,
          targeted=delivery.targeted, to_deliver=delivery.to_deliver)
    return delivery


def approve(user: Actor, delivery: Delivery, seen_hash: str | None = None) -> Delivery:
    """Freeze what the approver saw: counts, content hash, sender and audience.

    ``seen_hash``: the content hash of the preparation the approver's screen showed; a
    preparation made since then (different content) is not approved unseen."""
    _act(user, "approve", delivery)
    _require_unchanged(delivery)
    if seen_hash is not None and seen_hash != delivery.prepared_hash:
        raise DeliveryError(CHANGED_WHILE_REVIEWED)
    snapshot: dict[str, Any] = {
        "approved_by": user.get_username() if user else "",
        "approved_at": clock.now().isoformat(),
        "to_deliver": delivery.to_deliver,
        "content_hash": delivery.prepared_hash,
        "sender": delivery.sender,
        # What a recurring delivery's runs compare their audience with.
        "audience": audience_definition(delivery),
        "variants": delivery.variant_counts,  # to deliver, per language variant
    }
    lifecycle.apply(delivery, "approve", approval=snapshot, rejection={})
    audit(user, "delivery.approve", delivery_id=delivery.pk, **snapshot)
    return delivery


def reject(user: Actor, delivery: Delivery, reason: str) -> Delivery:
    """Send the delivery back to editing with the ``reason`` the preparer is shown."""
    _act(user, "reject", delivery)
    reason = (reason or "").strip()
    if not reason:
        raise DeliveryError(REASON_REQUIRED)
    if len(reason) > MAX_REASON_LENGTH:
        raise DeliveryError(f"reason: at most {MAX_REASON_LENGTH} characters")
    rejection = {"by": user.get_username() if user else "",
                 "at": clock.now().isoformat(), "reason": reason}
    lifecycle.apply(delivery, "reject", approval={}, rejection=rejection)
    audit(user, "delivery.reject", delivery_id=delivery.pk, reason=reason)
    return delivery


def confirm(user: Actor, delivery: Delivery) -> Delivery:
    """Confirm send: only a Start-deliveries user. Sending starts at once, or at the
    contact date (Start pending). A recurring delivery starts running its schedule,
    and its runs may then send by themselves unless each asks for confirmation."""
    _act(user, "confirm", delivery)
    if delivery.is_recurring:
        if delivery.status not in (Status.IN_PROGRESS, Status.PAUSED):
            _require_confirmable(delivery)
        return recurring.start(user, delivery, confirm=True)
    _require_confirmable(delivery)
    delivery = lifecycle.start_sending(delivery, clock.now())
    audit(user, "delivery.confirm", delivery_id=delivery.pk, to_deliver=delivery.to_deliver,
          status=delivery.status, start_at=_iso(delivery.start_at))
    lifecycle.finish_if_done(delivery.pk)
    delivery.refresh_from_db()
    return delivery


def activate(user: Actor, delivery: Delivery) -> Delivery:
    """Run a recurring delivery's schedule without letting its runs send by themselves
    (the Workflow role: runs are prepared, and wait for a confirmation)."""
    _act(user, "activate", delivery)
    if not delivery.is_recurring:
        raise DeliveryError("Only a recurring delivery is activated; confirm this one.")
    _require_confirmable(delivery)
    return recurring.start(user, delivery, confirm=False)


def withdraw_confirmation(user: Actor, delivery: Delivery) -> Delivery:
    """Runs of the recurring delivery no longer send by themselves."""
    _act(user, "confirm", delivery)
    try:
        return recurring.withdraw_confirmation(user, delivery)
    except scheduling.ScheduleError as error:
        raise DeliveryError(str(error)) from error


def _require_confirmable(delivery: Delivery) -> None:
    if delivery.status not in lifecycle.MOVES["confirm"].sources:
        # Stopped (with its recurring delivery, perhaps), sending, or not prepared.
        raise lifecycle.InvalidTransition(delivery.pk, "be confirmed", delivery.status)
    if delivery.approval_required and delivery.status != Status.APPROVED:
        raise lifecycle.InvalidTransition(delivery.pk, "be confirmed before approval",
                                          delivery.status)
    _require_unchanged(delivery)
    if not recurring.parent_approval_holds(delivery):
        raise DeliveryError(RECURRING_CHANGED)


def _iso(moment: Any) -> str | None:
    return moment.isoformat() if moment else None


def pause(user: Actor, delivery: Delivery) -> Delivery:
    return _sending_move(user, delivery, "pause")


def resume(user: Actor, delivery: Delivery) -> Delivery:
    delivery = _sending_move(user, delivery, "resume")
    recurring.resumed(delivery)
    return delivery


def stop(user: Actor, delivery: Delivery) -> Delivery:
    """Stop for good: what was sent stays sent, what was pending is marked ignored.

    Stopping a recurring delivery is final for its schedule and for every execution not
    yet finished: one waiting for its confirmation can no longer be confirmed, and one
    sending stops like any delivery."""
    from envoi.sending.queue import release_stopped

    with transaction.atomic():
        delivery = _sending_move(user, delivery, "stop", finished_at=clock.now())
        stopped = recurring.stop_executions(delivery, clock.now())
        if stopped:
            audit(user, "delivery.stop_executions", delivery_id=delivery.pk,
                  executions=stopped)
    release_stopped(clock.now())
    return delivery


def _sending_move(user: Actor, delivery: Delivery, move: str, **fields: Any) -> Delivery:
    _act(user, move, delivery)
    lifecycle.apply(delivery, move, **fields)
    audit(user, f"delivery.{move}", delivery_id=delivery.pk)
    return delivery


def _require_unchanged(delivery: Delivery) -> None:
    """The prepared (and approved) snapshot must still describe the delivery."""
    drift = snapshot_drift(delivery)
    if drift == "prepared":
        raise DeliveryError("The delivery changed since it was prepared: prepare it again.")
    if drift == "approved":
        raise DeliveryError("The delivery changed since it was approved: approve it again.")


MAX_PROOF_ADDRESSES = 20


def _checked_addresses(addresses: list[str]) -> list[str]:
    """The bare address of each typed proof address; DeliveryError naming a bad one."""
    from envoi.sending.mime import HeaderValueError, parse_mailbox

    if len(addresses) > MAX_PROOF_ADDRESSES:
        raise DeliveryError(f"addresses: at most {MAX_PROOF_ADDRESSES} proof addresses")
    try:
        return [parse_mailbox(address, f"addresses[{index}]")[1]
                for index, address in enumerate(addresses)]
    except HeaderValueError as error:
        raise DeliveryError(str(error)) from error


def send_proof(user: Actor, delivery: Delivery) -> dict[str, Any]:
    """A proof to the test profiles, each as itself in its own variant."""
    return send_proof_to(user, delivery)


def send_proof_to(user: Actor, delivery: Delivery, addresses: list[str] | None = None,
                  language: str | None = None, profile_id: int | None = None,
                  test_profile_ids: list[int] | None = None) -> dict[str, Any]:
    """A proof to the test profiles, or to the chosen ones and/or typed ``addresses``;
    in the ``language`` variant and rendered as profile ``profile_id`` when given."""
    from envoi.sending.proofs import send_proof as deliver_proof

    _act(user, "proof", delivery)
    if delivery.status not in lifecycle.PREPARED_STATES:
        raise lifecycle.InvalidTransition(delivery.pk, "send a proof before preparation",
                                          delivery.status)
    addresses = _checked_addresses(addresses or [])
    if language and language not in authoring.languages_of(delivery):
        raise DeliveryError(f"language: the delivery has no {language!r} variant")
    if len(addresses) + len(test_profile_ids or []) > MAX_PROOF_ADDRESSES:
        raise DeliveryError(f"addresses, test_profile_ids: at most {MAX_PROOF_ADDRESSES} "
                            "proof recipients in all")
    proof = deliver_proof(delivery, addresses, language, profile_id, test_profile_ids)
    audit(user, "delivery.proof", delivery_id=delivery.pk, number=proof["number"],
          recipients=len(proof["recipients"]))
    return proof


# -- scheduled sends ---------------------------------------------------------------------


def reschedule(user: Actor, delivery: Delivery, contact_date: Any) -> Delivery:
    """Move a scheduled send (Start pending) to a later date without preparing it again:
    the audience and content stay as prepared and approved; only when it goes changes.
    A naive ``contact_date`` is wall-clock time in the delivery's time zone."""
    _act(user, "confirm", delivery)  # a Start-deliveries user decides when it goes
    if delivery.status != Status.START_PENDING:
        raise lifecycle.InvalidTransition(delivery.pk, "be rescheduled", delivery.status)
    try:
        if isinstance(contact_date, str):
            contact_date = datetime.fromisoformat(contact_date.strip())
        when = scheduling.as_instant(contact_date, scheduling.zone(delivery.time_zone))
    except scheduling.ScheduleError as error:
        raise DeliveryError(str(error)) from error
    except ValueError:
        raise DeliveryError("contact_date: give a date and a time of day") from None
    current = delivery.contact_date or delivery.start_at
    if when <= clock.now() or (current is not None and when <= current):
        raise DeliveryError("contact_date: a scheduled send can only be moved to a later "
                            "date; to send sooner, cancel the schedule and confirm again.")
    with transaction.atomic():
        changed = Delivery.objects.filter(pk=delivery.pk, status=Status.START_PENDING).update(
            contact_date=when, updated_at=clock.now())
        if not changed:
            delivery.refresh_from_db()
            raise lifecycle.InvalidTransition(delivery.pk, "be rescheduled", delivery.status)
        delivery.refresh_from_db()
        start_at = _move_row_times(delivery)
        # The new date is part of what was prepared and approved (content_hash): the
        # snapshot follows it, and the audit log says who moved it.
        approval = dict(delivery.approval)
        new_hash = content_hash(delivery)
        if approval.get("content_hash"):
            approval["content_hash"] = new_hash
        approval["rescheduled"] = {"by": user.get_username() if user else "",
                                   "at": clock.now().isoformat(), "from": _iso(current)}
        Delivery.objects.filter(pk=delivery.pk).update(
            prepared_hash=new_hash, start_at=start_at, approval=approval)
        audit(user, "delivery.reschedule", delivery_id=delivery.pk, previous=_iso(current),
              contact_date=when.isoformat())
    delivery.refresh_from_db()
    return delivery


def _move_row_times(delivery: Delivery) -> Any:
    """In the recipient's-time-zone mode each pending row is due at the new contact
    date's wall-clock time in its profile's zone; the first instant any row is due."""
    if not delivery.recipient_time_zone or delivery.contact_date is None:
        return delivery.contact_date
    home = scheduling.zone(delivery.time_zone)
    wall = scheduling.wall_clock(delivery.contact_date, home)
    pending = SendingLog.objects.filter(delivery=delivery, status=SendStatus.PENDING)
    first = None
    for name in pending.values_list("profile__timezone", flat=True).distinct().order_by():
        due = scheduling.localize(wall, scheduling.zone_or(name or "", home))
        pending.filter(profile__timezone=name or "").update(next_attempt_at=due)
        first = due if first is None else min(first, due)
    return first or delivery.contact_date


def cancel_schedule(user: Actor, delivery: Delivery) -> Delivery:
    """Take back a scheduled send: it waits again for Confirm send, prepared (and
    approved) as it was."""
    _act(user, "confirm", delivery)
    move = "unschedule_approved" if delivery.approval_required else "unschedule"
    delivery = lifecycle.apply(delivery, move)
    audit(user, "delivery.cancel_schedule", delivery_id=delivery.pk)
    return delivery


# -- archive -----------------------------------------------------------------------------


def archive(user: Actor, delivery: Delivery) -> Delivery:
    """Hide a delivery from lists; its logs, links and history stay as they are."""
    _act(user, "delete", delivery)
    if delivery.status in lifecycle.SENDING_STATES:
        raise lifecycle.InvalidTransition(delivery.pk, "be archived", delivery.status)
    Delivery.objects.filter(Q(pk=delivery.pk) | Q(parent_id=delivery.pk)).update(
        archived_at=clock.now())
    audit(user, "delivery.archive", delivery_id=delivery.pk)
    delivery.refresh_from_db()
    return delivery


def unarchive(user: Actor, delivery: Delivery) -> Delivery:
    _act(user, "delete", delivery)
    Delivery.objects.filter(Q(pk=delivery.pk) | Q(parent_id=delivery.pk)).update(
        archived_at=None)
    audit(user, "delivery.unarchive", delivery_id=delivery.pk)
    delivery.refresh_from_db()
    return delivery


# -- what a user may do now ----------------------------------------------------------------

# Each action a person may take, in the order the faces show them, with the permission its
# service checks. Internal moves (schedule, start, finish, fail, reopen…) are not here.
ACTION_PERMISSIONS: dict[str, str] = {
    "edit": "delivery.edit",
    "prepare": "delivery.prepare",
    "proof": "delivery.proof",
    "approve": "delivery.approve",
    "reject": "delivery.reject",
    "confirm": "delivery.confirm",
    "activate": "delivery.activate",
    "withdraw_confirmation": "delivery.confirm",
    "reschedule": "delivery.confirm",
    "cancel_schedule": "delivery.confirm",
    "pause": "delivery.pause",
    "resume": "delivery.resume",
    "stop": "delivery.stop",
    "delete": "delivery.delete",
    "archive": "delivery.delete",
    "unarchive": "delivery.delete",
}


def available_actions(user: Actor, delivery: Delivery) -> list[str]:
    """The actions ``user`` may take on ``delivery`` now: their role allows it and the
    delivery's state does. The one answer the API, the console and the CLI show; each
    service still checks both when it is called."""
    permitted = permitted_actions(user)
    wanted = [name for name, permission in ACTION_PERMISSIONS.items()
              if permission in permitted]
    if not wanted:
        return []
    state = ActionRules(delivery, recurring.describe(delivery))
    return [name for name in wanted if state.allows(name)]
