import envoi.deliveries.models
from django.db import migrations, models


class Migration(migrations.Migration):
    """Deliveries that exist keep sending as before (off); new ones follow
    ENVOI_REQUIRE_CONSENT (on unless set to 0)."""

    dependencies = [
        ('deliveries', '0006_rejection_reason'),
    ]

    operations = [
        migrations.AddField(
            model_name='delivery',
            name='require_consent',
            field=models.BooleanField(default=False),
        ),
        migrations.AlterField(
            model_name='delivery',
            name='require_consent',
            field=models.BooleanField(default=envoi.deliveries.models.require_consent_default),
        ),
    ]
