# Issue 14: the last connection check of an integration (POST /api/integrations/<id>/check).

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("integrations", "0003_webhook_events")]

    operations = [
        migrations.AddField(
            model_name="integration",
            name="last_checked_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="integration",
            name="last_check_ok",
            field=models.BooleanField(blank=True, editable=False, null=True),
        ),
    ]
