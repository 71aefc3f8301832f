from django.apps import AppConfig


class EmailLogsConfig(AppConfig):
    name = "email_logs"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.urls import reverse

        from opbox.logging import mask_address_paths
        from opbox.probes import register_backlog

        from .backlog import queued_backlog
        from .lifecycle.entry_points import keep_purge_scheduled_on_worker
        from .tasks import keep_sweep_scheduled_on_worker

        # The routes that carry an address in their path: masked in the access log and Django's request warnings.
        mask_address_paths(
            r"/api/suppressions/(?P<address>[^?#\s\"]+?)(?=/?(?:[?#\s\"]|$))",
            r"/settings/suppressions/(?P<address>[^?#\s\"]+)/remove/",
        )
        # /readyz and the Tables page report queued emails without importing this app.
        register_backlog("queuedEmails", queued_backlog)
        # The in-flight sweep and the retention purge run on the workers as self-scheduling chains, each
        # checked by a worker's first task, then now and then (opbox.task_chain.WorkerCheck).
        keep_sweep_scheduled_on_worker.connect()
        keep_purge_scheduled_on_worker.connect()

        from documents.links import register_email_page
        from tables.models import SystemType
        from tables.registry import RowFilter, RowSource, register

        from . import signals  # noqa: F401  (creates log tables when email integrations are enabled)
        from .log_tables import ensure_email_log_tables
        from .models import EmailLogEntry, EmailSource, EmailStatus

        def email_page(workspace, email_id):
            # A document's page links the email it went with (documents cannot import this app).
            table_id = EmailLogEntry.objects.filter(table__workspace=workspace, pk=email_id).values_list("table_id", flat=True).first()
            return reverse("emails:email", args=[table_id, email_id]) if table_id else None

        register_email_page(email_page)
        register(
            SystemType.EMAIL_LOG,
            RowSource(
                rows=lambda table: EmailLogEntry.objects.filter(table=table),
                ordering=("sent_at", "id"),
                filters=(
                    RowFilter("status", "status", "Status", tuple(EmailStatus.values)),
                    RowFilter("source", "source", "Source", tuple(EmailSource.values)),
                ),
                search_fields=("to", "subject"),
                search_label="Search To or Subject",
                failure_field="status",
                failure_value=EmailStatus.FAILED,
                reason_field="error",
                row_noun="emails",
                empty_text=(
                    "Every email this workspace sends through this integration is logged here, delivered or failed, "
                    "the moment it is sent: from workflows, matters and forms, or from the API (POST /api/emails)."
                ),
                empty_admin_hint="Send a test email from Settings · Integrations to see the first row.",
                ensure_tables=ensure_email_log_tables,
                row_url=lambda table_id, row_id: reverse("emails:email", args=[table_id, row_id]),
                link_field="subject",
                retention_days=lambda workspace: workspace.email_log_retention_days,
            ),
        )
