from django.apps import AppConfig


class EmailLogsConfig(AppConfig):
    name = "email_logs"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from tables.models import SystemType
        from tables.registry import RowFilter, RowSource, register

        from . import signals  # noqa: F401  (creates log tables when email integrations are enabled)
        from .log_tables import ensure_email_log_tables
        from .models import EmailLogEntry, EmailSource, EmailStatus

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
            ),
        )
