"""Connects integrations to email logs: an enabled email integration always has its Email Log table.
And a workspace given a retention period (or a deploy's migrate) finds the purge chain running.
"""

from django.db import connection
from django.db.models.signals import post_migrate, post_save
from django.dispatch import receiver

from integrations.models import Integration
from opbox.models import TaskChain
from workspaces.signals import email_log_retention_changed

from .lifecycle.entry_points import keep_purge_scheduled
from .log_tables import ensure_email_log_table


@receiver(post_save, sender=Integration, dispatch_uid="email_log_table_for_email_integration")
def email_integration_saved(sender, instance: Integration, raw=False, **kwargs):
    if not raw and instance.is_email_provider and instance.enabled:
        ensure_email_log_table(instance)


@receiver(email_log_retention_changed, dispatch_uid="email_log_purge_for_retention")
def retention_changed(sender, workspace, days, **kwargs):
    if days is not None:
        keep_purge_scheduled()


@receiver(post_migrate, dispatch_uid="email_log_purge_after_migrate")
def migrated(sender, app_config=None, **kwargs):
    # After a deploy's migrate, restart a chain that was lost (only if some workspace has a retention period).
    ours = app_config is not None and app_config.name == "email_logs"
    if ours and TaskChain._meta.db_table in connection.introspection.table_names():
        keep_purge_scheduled()

