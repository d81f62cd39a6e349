"""PostgreSQL: the sending log becomes a table partitioned by id range, one partition a
month, the existing table its first partition (see envoi.sending.partitions). Not
atomic: the range check is validated while rows are still written (workers of the
previous release keep sending), and only the swap takes a short lock."""

from django.db import migrations
from django.utils import timezone


def partition(apps, schema_editor) -> None:
    from envoi.sending import partitions

    if schema_editor.connection.vendor == "postgresql" and not partitions.is_partitioned():
        partitions.convert(timezone.now())


def unpartition(apps, schema_editor) -> None:
    from envoi.sending import partitions

    if partitions.is_partitioned():
        partitions.revert()


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("sending", "0007_retention")]

    operations = [migrations.RunPython(partition, unpartition, elidable=False)]
