# Placeholder for issue 15 (retention, erasure): its author fills in the operations.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("email_logs", "0006_batched_delivery")]

    operations = []
