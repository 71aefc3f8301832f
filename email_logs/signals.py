"""Connects integrations to email logs: an enabled email integration always has its Email Log table."""

from django.db.models.signals import post_save
from django.dispatch import receiver

from integrations.models import Integration

from .log_tables import ensure_email_log_table


@receiver(post_save, sender=Integration, dispatch_uid="email_log_table_for_email_integration")
def email_integration_saved(sender, instance: Integration, raw=False, **kwargs):
    if not raw and instance.is_email_provider and instance.enabled:
        ensure_email_log_table(instance)
