# Issue 13 (batched, paced delivery): the batch an outbox record is sent in, and each integration's pace.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("email_logs", "0005_delivery_events")]

    operations = [
        migrations.AddField(
            model_name="outboundemail",
            name="batch_id",
            field=models.CharField(blank=True, default="", max_length=32),
        ),
        migrations.AddIndex(
            model_name="outboundemail",
            index=models.Index(
                condition=models.Q(("batch_id", ""), _negated=True), fields=["batch_id"], name="outbox_batch_members"
            ),
        ),
        migrations.CreateModel(
            name="DeliveryPace",
            fields=[
                (
                    "integration",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="+",
                        serialize=False,
                        to="integrations.integration",
                    ),
                ),
                ("last_call_at", models.DateTimeField(blank=True, null=True)),
                ("next_slot_at", models.DateTimeField(blank=True, null=True)),
                ("paused_until", models.DateTimeField(blank=True, null=True)),
            ],
        ),
    ]
