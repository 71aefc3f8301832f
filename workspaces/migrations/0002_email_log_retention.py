# Placeholder for issue 15 (retention setting, workspace audit): its author fills in the operations.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("workspaces", "0001_initial")]

    operations = []
