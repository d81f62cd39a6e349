"""PostgreSQL: the tracking log becomes a table partitioned by id range, the existing
table its first partition (see envoi.tracking.partitions). Not atomic: the range check
is validated while events are still written, and only the swap takes a short lock."""

from django.db import migrations
from django.utils import timezone


def partition(apps, schema_editor) -> None:
    from envoi.tracking import partitions

    if schema_editor.connection.vendor == "postgresql" and not partitions.is_partitioned():
        partitions.convert(timezone.now())


def unpartition(apps, schema_editor) -> None:
    from envoi.tracking import partitions

    if partitions.is_partitioned():
        partitions.revert()


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("tracking", "0002_event_rollup")]

    operations = [migrations.RunPython(partition, unpartition, elidable=False)]
