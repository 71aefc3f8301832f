# TaskChain moves here from email_logs, whose migration 0009 renamed its table to this app's name.

from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [("email_logs", "0009_shared_machinery_moves_down")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="TaskChain",
                    fields=[
                        ("name", models.CharField(max_length=64, primary_key=True, serialize=False)),
                        ("token", models.UUIDField()),
                        ("next_run_at", models.DateTimeField()),
                        ("updated_at", models.DateTimeField(auto_now=True)),
                    ],
                ),
            ],
        ),
    ]
