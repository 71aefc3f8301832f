# The task chain's state (TaskChain) moves to opbox and the pacer's (DeliveryPace, now IntegrationPace) to
# integrations: their tables are renamed here and the models leave this app's state; opbox 0001 and
# integrations 0005 take them over without touching the database.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("email_logs", "0008_message_id_index")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.AlterModelTable(name="taskchain", table="opbox_taskchain"),
                migrations.AlterModelTable(name="deliverypace", table="integrations_integrationpace"),
            ],
            state_operations=[
                migrations.DeleteModel(name="TaskChain"),
                migrations.DeleteModel(name="DeliveryPace"),
            ],
        ),
    ]
