"""Recurring deliveries (SPEC §4): a parent with a schedule spawns executions.

The parent is prepared (to check its content and count its audience) and approved
like any delivery, but never sends itself. Once it is *running* (confirmed by a
Start-deliveries user, or activated by a Workflow user), each run of its schedule
creates or extends an **execution**: a child delivery that is prepared and sent.

* With no aggregation period every run gets a new execution, prepared afresh. With
  *Request confirmation before sending* (the default) the execution then waits, ready,
  for a Start-deliveries user to confirm it. Without, it starts by itself — but only if
  a Start-deliveries user confirmed the recurring delivery, a confirmation that is
  audited and can be withdrawn.
* With an aggregation period (day, week, month) the runs of one period share one
  execution: the first run prepares it, later runs add only the profiles that newly
  qualify, so nobody receives it twice within a period.

**Each run fires exactly once.** A worker fires a run inside one transaction that
claims it (moving ``next_run_at`` forward with a conditional UPDATE) and creates,
prepares and starts its execution. Two workers cannot both claim it; a worker that
dies halfway rolls everything back and the run is still due for the next one. A unique
constraint on (parent, period) guards the same thing once more. Runs missed while no
worker ran are coalesced: only the latest one fires.

**Each run sends what was approved.** Before a run, the parent's content hash is compared
with the prepared and approved snapshot — the audience's definition included (a saved
filter's text, a static list's identity), which can be edited while the schedule runs.
If it changed, the run does not fire: the parent is prepared again and goes back for
approval (or to Ready, when it needs none), its confirmation is withdrawn, and why is
audited and kept in ``approval["returned_for_approval"]`` for the faces to show.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import F

from envoi import clock
from envoi.accounts.services import Actor, audit
from envoi.deliveries import lifecycle
from envoi.deliveries.content import audience_definition, snapshot_drift
from envoi.deliveries.models import Aggregation, Delivery, Recurrence, Status
from envoi.deliveries.scheduling import (
    AGGREGATIONS,
    Cron,
    ScheduleError,
    as_instant,
    cron_of,
    next_run,
    period_of,
    zone,
    zone_or,
)

UTC_ZONE = ZoneInfo("UTC")

log = logging.getLogger("envoi.scheduler")

SCHEDULER = "scheduler"  # the audit log's name for runs the schedule fires by itself
MAX_COALESCED = 100_000  # missed occurrences skipped over in one go
RETURNED = "returned_for_approval"  # the approval's key saying why a run was held

# What an execution copies from its parent.
INHERITED_FIELDS = ("channel", "sender", "reply_to", "subject", "html_body", "text_body",
                    "audience", "is_marketing", "require_consent", "typology", "max_retries",
                    "retry_delay_seconds", "validity_hours", "time_zone",
                    "recipient_time_zone", "max_parts", "track_links")


@dataclass(frozen=True)
class RecurrenceSpec:
    cron: str
    ends_at: datetime | None
    aggregation: str
    request_confirmation: bool


SPEC_FIELDS = frozenset({"cron", "every", "at", "weekdays", "day_of_month", "ends_at",
                         "aggregation", "request_confirmation"})


def spec_from(data: dict[str, Any], time_zone: str) -> RecurrenceSpec:
    """Read a schedule given as ``cron`` or as ``every`` + ``at`` (+ ``weekdays`` or
    ``day_of_month``); errors name the field."""
    unknown = set(data) - SPEC_FIELDS
    if unknown:
        raise ScheduleError(f"recurrence: unknown fields {', '.join(sorted(unknown))}")
    if bool(data.get("cron")) == bool(data.get("every")):
        raise ScheduleError("recurrence: give either 'cron' or 'every' (with 'at')")
    cron = data.get("cron") or cron_of(data["every"], data.get("at") or "",
                                       data.get("weekdays"), data.get("day_of_month"))
    aggregation = data.get("aggregation") or Aggregation.NONE
    if aggregation not in AGGREGATIONS:
        raise ScheduleError(f"recurrence.aggregation: {aggregation!r} is not one of "
                            f"{', '.join(AGGREGATIONS)}")
    ends_at = data.get("ends_at")
    if isinstance(ends_at, str):
        try:
            ends_at = datetime.fromisoformat(ends_at)
        except ValueError as error:
            raise ScheduleError(f"recurrence.ends_at: {ends_at!r} is not a date") from error
    confirmation = data.get("request_confirmation")
    parsed = Cron.parse(cron)
    next_run(parsed, zone(time_zone), clock.now())  # refuses a date that never occurs
    return RecurrenceSpec(
        cron=parsed.text,
        ends_at=as_instant(ends_at, zone(time_zone), "recurrence.ends_at") if ends_at else None,
        aggregation=aggregation,
        request_confirmation=True if confirmation is None else bool(confirmation),
    )


def save_spec(delivery: Delivery, spec: RecurrenceSpec | None) -> None:
    """Give ``delivery`` this schedule, or none; it runs once the delivery is started."""
    if spec is None:
        Recurrence.objects.filter(delivery=delivery).delete()
        return
    Recurrence.objects.update_or_create(delivery=delivery, defaults={
        "cron": spec.cron, "ends_at": spec.ends_at, "aggregation": spec.aggregation,
        "request_confirmation": spec.request_confirmation, "next_run_at": None})


def spec_of(delivery: Delivery) -> RecurrenceSpec | None:
    found = Recurrence.objects.filter(delivery_id=delivery.pk).first()
    if found is None:
        return None
    return RecurrenceSpec(found.cron, found.ends_at, found.aggregation,
                          found.request_confirmation)


# -- starting, confirming, withdrawing -------------------------------------------------


def start(user: Actor, parent: Delivery, *, confirm: bool) -> Delivery:
    """Run the schedule of a prepared (and approved) recurring delivery. With
    ``confirm`` (a Start-deliveries user) the confirmation that lets runs send by
    themselves is recorded too; a running delivery is only (re)confirmed."""
    now = clock.now()
    recurrence = Recurrence.objects.get(delivery=parent)
    with transaction.atomic():
        if parent.status not in (Status.IN_PROGRESS, Status.PAUSED):
            approval = {k: v for k, v in parent.approval.items() if k != RETURNED}
            parent = lifecycle.apply(parent, "confirm", started_at=now, approval=approval)
            _schedule_next(recurrence, now)
        if confirm:
            Recurrence.objects.filter(pk=recurrence.pk).update(
                confirmed_by=_user_or_none(user), confirmed_at=now)
        recurrence.refresh_from_db()
        audit(user, "delivery.confirm" if confirm else "delivery.activate",
              delivery_id=parent.pk, recurring=True, next_run_at=_iso(recurrence.next_run_at),
              sends_by_itself=recurrence.sends_by_itself)
    return parent


def withdraw_confirmation(user: Actor, parent: Delivery) -> Delivery:
    """From now on every run waits for a confirmation again."""
    changed = Recurrence.objects.filter(delivery=parent, confirmed_at__isnull=False).update(
        confirmed_by=None, confirmed_at=None)
    if not changed:
        raise ScheduleError("The recurring delivery has no confirmation to withdraw.")
    audit(user, "delivery.withdraw_confirmation", delivery_id=parent.pk)
    return parent


def stop_executions(parent: Delivery, now: datetime) -> list[int]:
    """The schedule of a stopped recurring delivery runs no more, and each of its
    executions not yet finished is stopped; the ids of those stopped.

    Clearing ``next_run_at`` first is what orders this with a run being fired: it waits
    for the row the firing worker claimed, so the executions listed next include the
    one that run created (and a run not yet claimed finds nothing to claim)."""
    Recurrence.objects.filter(delivery=parent).update(next_run_at=None)
    stopped = []
    open_states = lifecycle.MOVES["stop_with_parent"].sources
    for execution in Delivery.objects.filter(parent=parent, status__in=open_states):
        try:
            lifecycle.apply(execution, "stop_with_parent", finished_at=now)
        except lifecycle.InvalidTransition:
            continue  # it finished meanwhile
        stopped.append(execution.pk)
    return stopped


def resumed(parent: Delivery) -> None:
    """Runs that fell due while paused are skipped: the next run is the next one due."""
    recurrence = Recurrence.objects.filter(delivery=parent).first()
    if recurrence is not None:
        _schedule_next(recurrence, clock.now())


def _schedule_next(recurrence: Recurrence, after: datetime) -> None:
    parent = recurrence.delivery
    following: datetime | None = next_run(Cron.parse(recurrence.cron),
                                          zone(parent.time_zone), after)
    if following is not None and recurrence.ends_at is not None and following > recurrence.ends_at:
        following = None
    Recurrence.objects.filter(pk=recurrence.pk).update(next_run_at=following)


# -- the scheduler ---------------------------------------------------------------------


def fire_due_runs(now: datetime) -> list[int]:
    """Fire every run due at ``now``; the ids of the executions created or extended.

    Safe to call from any number of workers at once (see the module docstring).
    """
    due = (Recurrence.objects.filter(next_run_at__lte=now, delivery__status=Status.IN_PROGRESS)
           .order_by("next_run_at").values_list("pk", "next_run_at"))
    fired = []
    for recurrence_id, due_at in list(due):
        assert due_at is not None  # the filter above
        try:
            execution = fire(recurrence_id, due_at, now)
        except Exception:  # the run stays due; one broken schedule must not stop others
            log.exception("recurring delivery %s: run due at %s failed; it stays due",
                          recurrence_id, due_at)
            continue
        if execution is not None:
            fired.append(execution)
    return fired


def fire(recurrence_id: int, due_at: datetime, now: datetime) -> int | None:
    """Claim the run due at ``due_at`` and carry it out, all or nothing."""
    with transaction.atomic():
        recurrence = Recurrence.objects.select_related("delivery").get(pk=recurrence_id)
        parent = recurrence.delivery
        if snapshot_drift(parent) is not None:
            _return_for_approval(parent, recurrence, due_at, now)
            return None
        cron, tz = Cron.parse(recurrence.cron), zone(parent.time_zone)
        run_at, following = due_at, next_run(cron, tz, due_at)
        for _ in range(MAX_COALESCED):  # missed runs: only the latest fires
            if following > now:
                break
            run_at, following = following, next_run(cron, tz, following)
        ends = recurrence.ends_at
        claimed = Recurrence.objects.filter(pk=recurrence.pk, next_run_at=due_at).update(
            next_run_at=None if ends is not None and following > ends else following,
            last_run_at=run_at, runs=F("runs") + 1)
        if not claimed:
            return None  # another worker fired it
        execution = _run(parent, recurrence, run_at, now)
        if ends is not None and following > ends:
            lifecycle.apply(parent, "finish", finished_at=now)
    return execution.pk if execution is not None else None


def _return_for_approval(parent: Delivery, recurrence: Recurrence, due_at: datetime,
                         now: datetime) -> None:
    """Hold the run: prepare the parent again, for a new approval of what changed."""
    from envoi.preparation.services import prepare_delivery

    approved = parent.approval.get("audience")
    current = audience_definition(parent)
    returned = {"at": now.isoformat(), "run_at": due_at.isoformat(),
                "audience_changed": bool(approved) and _defining(approved) != _defining(current),
                "approved_audience": approved, "audience": current,
                "approved_by": parent.approval.get("approved_by", ""),
                "approved_at": parent.approval.get("approved_at")}
    try:
        parent = lifecycle.apply(parent, "return_for_approval", approval={RETURNED: returned})
    except lifecycle.InvalidTransition:
        return  # another worker did it, or a person paused or stopped the delivery
    Recurrence.objects.filter(pk=recurrence.pk).update(
        next_run_at=None, confirmed_by=None, confirmed_at=None)
    parent = prepare_delivery(parent)
    log.warning("recurring delivery %s changed since its approval: the run due at %s is "
                "held, and the delivery is %s", parent.pk, due_at, parent.status)
    audit(None, "delivery.return_for_approval", delivery_id=parent.pk, by=SCHEDULER,
          status=parent.status, to_deliver=parent.to_deliver, **returned)


def _defining(audience: dict | None) -> tuple:
    """What makes an audience the one approved (its name may change freely)."""
    audience = audience or {}
    return audience.get("id"), audience.get("kind"), audience.get("filter")


def parent_approval_holds(execution: Delivery) -> bool:
    """Whether an execution may still be confirmed: its recurring delivery has not gone
    back for approval, and still matches what was approved. An execution needs no
    approval of its own, so without this check one prepared again by hand after its
    audience was edited would send to people nobody approved."""
    parent = execution.parent
    if parent is None:
        return True
    if parent.status in (Status.STOPPED, Status.FAILED):
        return False  # a stopped schedule is final for its runs
    waits = parent.status in lifecycle.EDITABLE_STATES or parent.status == Status.PREPARING
    return not waits and RETURNED not in parent.approval and snapshot_drift(parent) is None


def _run(parent: Delivery, recurrence: Recurrence, run_at: datetime,
         now: datetime) -> Delivery | None:
    period = period_of(run_at, zone(parent.time_zone), recurrence.aggregation)
    execution = Delivery.objects.filter(parent=parent, period=period).first()
    if execution is None:
        return _new_execution(parent, recurrence, period, run_at, now)
    return _extend_execution(execution, run_at, now)


def _new_execution(parent: Delivery, recurrence: Recurrence, period: str,
                   run_at: datetime, now: datetime) -> Delivery:
    from envoi.preparation.services import prepare_delivery

    execution = Delivery.objects.create(
        parent=parent, period=period, label=f"{parent.label} · {period}",
        contact_date=run_at, approval_required=False,
        approval={"inherited_from": parent.pk, "parent_approval": parent.approval},
        created_by=parent.created_by,
        **{name: getattr(parent, name) for name in INHERITED_FIELDS})
    lifecycle.apply(execution, "prepare")
    execution = prepare_delivery(execution)
    audit(None, "delivery.execution", delivery_id=parent.pk, execution_id=execution.pk,
          period=period, run_at=run_at.isoformat(), status=execution.status,
          to_deliver=execution.to_deliver, by=SCHEDULER)
    if execution.status == Status.READY and recurrence.sends_by_itself:
        execution = lifecycle.start_sending(execution, now)
        audit(None, "delivery.confirm", delivery_id=execution.pk, by=SCHEDULER,
              confirmed_by=_username(recurrence), confirmed_at=_iso(recurrence.confirmed_at))
    return execution


def _extend_execution(execution: Delivery, run_at: datetime, now: datetime) -> Delivery | None:
    """A later run of the period: send to the profiles that qualify since."""
    from envoi.preparation.services import extend_preparation

    extendable = lifecycle.PREPARED_STATES | lifecycle.SENDING_STATES | {Status.FINISHED}
    if execution.status not in extendable:
        log.info("execution %s is %s: run at %s adds nobody", execution.pk,
                 execution.status, run_at)
        return None
    added = extend_preparation(execution, run_at)
    if added and execution.status == Status.FINISHED:
        execution = lifecycle.apply(execution, "reopen", finished_at=None)
    if added and execution.status in lifecycle.SENDING_STATES:
        Delivery.objects.filter(pk=execution.pk).update(
            valid_until=lifecycle.valid_until(execution, now))
    audit(None, "delivery.execution", delivery_id=execution.parent_id,
          execution_id=execution.pk, period=execution.period, run_at=run_at.isoformat(),
          added=added, by=SCHEDULER)
    return execution


def executions(parent: Delivery):
    return Delivery.objects.filter(parent=parent).order_by("-id")


def describe(delivery: Delivery) -> dict[str, Any] | None:
    """The schedule as the faces show it, or None for a one-shot delivery."""
    found = (Recurrence.objects.select_related("confirmed_by")
             .filter(delivery_id=delivery.pk).first())
    if found is None:
        return None
    return {"cron": found.cron, "ends_at": found.ends_at, "aggregation": found.aggregation,
            "request_confirmation": found.request_confirmation,
            "confirmed_by": _username(found), "confirmed_at": found.confirmed_at,
            "sends_by_itself": found.sends_by_itself, "next_run_at": found.next_run_at,
            "last_run_at": found.last_run_at, "runs": found.runs}


def local_contact_date(delivery: Delivery) -> str | None:
    """The contact date as the wall-clock time it was entered in, e.g. 2026-03-08T09:00."""
    if delivery.contact_date is None:
        return None
    local = delivery.contact_date.astimezone(zone_or(delivery.time_zone, UTC_ZONE))
    return local.replace(tzinfo=None).isoformat(timespec="minutes")


def _user_or_none(user: Actor) -> Any:
    return user if user is not None and getattr(user, "is_authenticated", False) else None


def _username(recurrence: Recurrence) -> str:
    return recurrence.confirmed_by.get_username() if recurrence.confirmed_by else ""


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
