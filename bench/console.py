"""Console benchmark: the server time of every console page on a big database.

    .venv/bin/python bench/console.py [--profiles 1000000] [--rows 1000000] \
        [--events 300000] [--repeat 5] [--keep]

Seeds PostgreSQL (database ``envoi_bench_console``) in SQL: N profiles, one finished
delivery with N sending-log rows (1 % hard and 1 % soft failures) and M tracking events
(as ``bench/kpis.py`` does), 50 more deliveries with a contact date, a saved-filter
audience, a thousand audit entries, and a quarantine record (with two history events)
for one profile in 50. Then asks each page through Django's test client, signed in as a user
holding every role — the whole request path: middleware, session, view, queries and
template — ``--repeat`` + 1 times, and prints one line per page with the median server
time of all but the first request, and the first one (cold caches: the database's, and
the console's cached throughput of a finished delivery). Target: every page under
300 ms.

Everything but the result lines starts with ``#``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import common
from common import note
from kpis import SEED_EVENTS, SEED_ROWS

DATABASE = "envoi_bench_console"
TARGET_MS = 300

SEED_PROFILES = """
INSERT INTO audiences_profile (email, phone, first_name, last_name, language, timezone,
    attributes, email_opt_out, sms_opt_out, is_test, created_at, updated_at)
SELECT 'member' || i || '@rcpt' || (i %% 97) || '.example.com', '',
       (ARRAY['민준','서연','도윤','하은','지호','Ada','Bob','Emma'])[1 + i %% 8],
       (ARRAY['김','이','박','최','Smith','Martin'])[1 + i %% 6],
       CASE WHEN i %% 6 = 5 THEN 'en' ELSE 'ko' END, 'Asia/Seoul',
       jsonb_build_object('tier', CASE WHEN i %% 10 = 0 THEN 'gold' ELSE 'basic' END),
       false, false, false, now() - i * interval '1 second', now()
FROM generate_series(0, %(profiles)s - 1) AS i
"""

SEED_AUDIT = """
INSERT INTO accounts_auditentry (at, actor_id, actor_name, action, allowed, delivery_id,
    detail)
SELECT now() - i * interval '1 minute', NULL, 'bench',
       CASE WHEN i %% 3 = 0 THEN 'delivery.prepare' ELSE 'delivery.view' END,
       i %% 5 <> 0, %(delivery)s, '{}'::jsonb
FROM generate_series(0, 999) AS i
"""


# One address in 50 has a quarantine record (a third quarantined, a third erroneous, a
# third denylisted), each with two history events.
SEED_QUARANTINE = """
INSERT INTO bounces_quarantine (channel, address, status, error_count, reason,
    first_error_at, last_error_at, status_changed_at, updated_at)
SELECT 'email', 'member' || i || '@rcpt' || (i %% 97) || '.example.com',
       (ARRAY['quarantined', 'erroneous', 'denylisted'])[1 + (i / 50) %% 3],
       1 + i %% 5, (ARRAY['user_unknown', 'mailbox_full', 'complaint'])[1 + (i / 50) %% 3],
       now() - interval '3 days', now() - (i %% 1000) * interval '1 minute', now(), now()
FROM generate_series(0, %(profiles)s - 1, 50) AS i;
INSERT INTO bounces_quarantineevent (channel, address, at, from_status, to_status, reason,
    source, error_count, row_id, actor, note)
SELECT q.channel, q.address, q.first_error_at + e * interval '1 hour',
       CASE WHEN e = 0 THEN 'valid' ELSE 'erroneous' END, q.status, q.reason, 'sending',
       e + 1, NULL, '', ''
FROM bounces_quarantine q CROSS JOIN generate_series(0, 1) AS e
"""


def seed(profiles: int, rows: int, events: int) -> int:
    from datetime import timedelta

    from django.db import connection
    from django.utils import timezone

    from envoi.audiences.models import Audience
    from envoi.deliveries.models import Delivery, Status

    start = timezone.now() - timedelta(days=1)
    audience = Audience.objects.create(name="Gold members", filter='attributes.tier = "gold"')
    delivery = Delivery.objects.create(
        label="Spring sale", sender="news@shop.example.com", subject="Spring",
        audience=audience, status=Status.FINISHED, targeted=rows, to_deliver=rows,
        started_at=start, finished_at=start + timedelta(hours=3), prepared_at=start)
    Delivery.objects.bulk_create(
        Delivery(label=f"Newsletter {n}", sender="news@shop.example.com", subject="News",
                 audience=audience, contact_date=start + timedelta(days=2 + n),
                 time_zone="Asia/Seoul") for n in range(50))
    params = {"delivery": delivery.pk, "rows": rows, "events": events, "profiles": profiles,
              "engaged": (rows + 1) // 2, "start": start}
    for what, sql in [(f"{profiles} profiles", SEED_PROFILES),
                      (f"{rows} sending-log rows", SEED_ROWS),
                      (f"{events} tracking events", SEED_EVENTS),
                      ("1000 audit entries", SEED_AUDIT),
                      (f"{profiles // 50} quarantine records", SEED_QUARANTINE)]:
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
        note(f"seeded {what} in {time.perf_counter() - started:.1f} s")
    from envoi.reporting.engagement import rebuild_engagement

    rebuild_engagement(delivery.pk)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    return delivery.pk


def pages(delivery_id: int) -> list[tuple[str, str, dict]]:
    """(method, path, POST data) of every console page and fragment."""
    from envoi.audiences.models import Audience, Profile
    from envoi.bounces.models import Quarantine
    from envoi.deliveries.models import Delivery

    profile = Profile.objects.order_by("pk").values_list("pk", "email").first()
    assert profile is not None
    audience = Audience.objects.get(name="Gold members").pk
    quarantined = Quarantine.objects.order_by("-pk").values_list("pk", flat=True).first()
    scheduled = Delivery.objects.filter(contact_date__isnull=False).values_list(
        "pk", flat=True).first()
    d = f"/deliveries/{delivery_id}"
    return [("GET", path, {}) for path in [
        "/deliveries/", "/deliveries/?q=spring", "/deliveries/?status=finished",
        f"{d}/", f"{d}/live/", f"{d}/charts/",
        f"{d}/logs/sending/", f"{d}/logs/sending/?page=100",
        f"{d}/logs/sending/?status=failed", f"{d}/logs/exclusions/",
        f"{d}/logs/tracking/", f"{d}/logs/tracking/?kind=click", f"{d}/logs/preparation/",
        "/deliveries/new/", f"{d}/edit/",
        f"/profiles/?q={profile[1]}", "/profiles/?q=Emma", "/profiles/",
        f"/profiles/{profile[0]}/", "/audiences/", f"/audiences/{audience}/",
        "/admin/users/", "/admin/audit/", "/outbox/", f"/deliveries/{scheduled}/",
        "/quarantine/", "/quarantine/?status=quarantined&reason=user_unknown",
        "/quarantine/?q=member1000@", "/quarantine/?page=50", f"/quarantine/{quarantined}/",
    ]] + [("POST", "/audiences/check/", {"filter": text}) for text in [
        'language = "en" and attributes.tier = "gold"', 'attributes.tier = "gold"']]


def time_page(client, method: str, path: str, data: dict, repeat: int) -> tuple[float, float]:
    """(first request, median of the next ``repeat``) in milliseconds."""
    call = client.get if method == "GET" else client.post
    timings = []
    for _ in range(repeat + 1):
        started = time.perf_counter()
        response = call(path, data)
        timings.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            common.fail(f"{method} {path} answered {response.status_code}")
    return timings[0], statistics.median(timings[1:])


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profiles", type=int, default=1_000_000)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    common.configure(common.reset_postgres(DATABASE), common.temp_dir("envoi-bench-console-"))
    common.setup_django(migrate=True)
    note(common.machine_description())
    delivery_id = seed(args.profiles, args.rows, args.events)
    from django.test import Client

    # As a browser at the configured base URL would be: the server answers to that host.
    client = Client(HTTP_ACCEPT_LANGUAGE="ko", HTTP_HOST="mail.example.com")
    client.force_login(common.all_roles_user())
    slowest = (0.0, "")
    for method, path, data in pages(delivery_id):
        first, ms = time_page(client, method, path, data, args.repeat)
        slowest = max(slowest, (ms, f"{method} {path}"))
        print(f"envoi-console: {method} {path} {ms:.1f} ms (first request {first:.1f} ms)")
    verdict = "ok" if slowest[0] < TARGET_MS else f"OVER the {TARGET_MS} ms target"
    print(f"envoi-console: slowest {slowest[1]} {slowest[0]:.1f} ms "
          f"({args.profiles} profiles, {args.rows} sending-log rows, postgresql): {verdict}")
    if not args.keep:
        from django.db import connections

        connections.close_all()
        common.drop_postgres(DATABASE)
    return 0 if slowest[0] < TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
