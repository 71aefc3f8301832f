"""Connects integrations to documents: an enabled DOCUMENT_ENGINE integration always has its Document Log table."""

from django.db.models.signals import post_save
from django.dispatch import receiver

from integrations.models import Integration
from integrations.types import IntegrationType

from .log_tables import ensure_document_log_table


@receiver(post_save, sender=Integration, dispatch_uid="document_log_table_for_document_engine")
def document_engine_saved(sender, instance: Integration, raw=False, **kwargs):
    if not raw and instance.type == IntegrationType.DOCUMENT_ENGINE and instance.enabled:
        ensure_document_log_table(instance)
