# Placeholder for issue 12 (webhook settings, last event): its author fills in the operations.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("integrations", "0002_integrationauditevent")]

    operations = []
