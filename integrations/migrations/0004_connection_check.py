# Placeholder for issue 14 (connection check): its author fills in the operations.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("integrations", "0003_webhook_events")]

    operations = []
