# Issue 12: when an email integration's provider last posted a verified webhook.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("integrations", "0002_integrationauditevent")]

    operations = [
        migrations.AddField(
            model_name="integration",
            name="last_event_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
    ]
