# The pacer's state moves here from email_logs (DeliveryPace there), whose migration 0009 renamed its table.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("integrations", "0004_connection_check"),
        ("email_logs", "0009_shared_machinery_moves_down"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="IntegrationPace",
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
            ],
        ),
    ]
