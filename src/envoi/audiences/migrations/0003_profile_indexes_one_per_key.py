"""One index per way a profile is looked up: the address key (``lower(trim(email))``)
and the external id. ``lower(email)`` duplicated the first, and ``unique=True`` on a
CharField adds a pattern-matching index on PostgreSQL; each was paid again by every row an
import writes. Dropping indexes needs no rewrite, so old workers keep sending throughout."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('audiences', '0002_profile_external_id_and_import_jobs'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='profile',
            name='profile_email_lower',
        ),
        migrations.AlterField(
            model_name='profile',
            name='external_id',
            field=models.CharField(blank=True, max_length=200, null=True),
        ),
        migrations.AddConstraint(
            model_name='profile',
            constraint=models.UniqueConstraint(fields=('external_id',), name='profile_external_id_unique'),
        ),
    ]
