"""Connects integrations to deliveries: an integration that receives events always has its Delivery Log table."""

from django.db.models.signals import post_save
from django.dispatch import receiver

from integrations.models import Integration

from .log_tables import ensure_delivery_log_table
from .subscriptions import receives_events


@receiver(post_save, sender=Integration, dispatch_uid="delivery_log_table_for_receiving_integration")
def receiving_integration_saved(sender, instance: Integration, raw=False, **kwargs):
    if not raw and receives_events(instance):
        ensure_delivery_log_table(instance)
