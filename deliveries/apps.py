from django.apps import AppConfig


class DeliveriesConfig(AppConfig):
    name = "deliveries"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.urls import reverse
        from django_tasks.signals import task_started

        from integrations.cards import register_card_facts
        from tables.models import SystemType, Table
        from tables.registry import RowFilter, RowSource, register
        from workspaces.events import on_recorded
        from workspaces.models import WorkspaceEventType

        from . import signals  # noqa: F401  (creates Delivery Log tables when receiving integrations are saved)
        from .log_tables import ensure_delivery_log_tables
        from .models import Delivery, DeliveryStatus
        from .services import delivery_card_facts
        from .tasks import fan_out_after_commit, keep_sweep_scheduled_on_worker

        register_card_facts(delivery_card_facts)
        # Each transaction that records events enqueues one fan-out once it commits.
        on_recorded(fan_out_after_commit)
        # The sweep (deliveries left by a dead worker, lost tasks) runs on the workers, started by their first task.
        task_started.connect(keep_sweep_scheduled_on_worker, dispatch_uid="deliveries.keep_sweep_scheduled")

        register(
            SystemType.DELIVERY_LOG,
            RowSource(
                # By the table's id alone (the rows API compiles this once, with the id as its parameter).
                rows=lambda table: Delivery.objects.filter(integration_id__in=Table.objects.filter(pk=table.pk).values("integration_id")),
                ordering=("created_at", "id"),
                filters=(
                    RowFilter("status", "status", "Status", tuple(DeliveryStatus.values)),
                    RowFilter("event", "event_type", "Event", tuple(WorkspaceEventType.values)),
                ),
                search_fields=("event_id", "email_id"),
                search_label="Search Event ID or Email ID",
                failure_field="status",
                failure_value=DeliveryStatus.FAILED,
                reason_field="error",
                row_noun="deliveries",
                empty_text=(
                    "Every workspace event this integration subscribes to is delivered and logged here: "
                    "each attempt's answer, the next retry, and why a delivery failed."
                ),
                empty_admin_hint="Check the integration's subscribed events in Settings · Integrations.",
                ensure_tables=ensure_delivery_log_tables,
                row_url=lambda table_id, row_id: reverse("deliveries:delivery", args=[table_id, row_id]),
                link_field="event_type",
            ),
        )
