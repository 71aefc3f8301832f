# Placeholder for issue 13 (batched, paced delivery): its author fills in the operations.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("email_logs", "0005_delivery_events")]

    operations = []
