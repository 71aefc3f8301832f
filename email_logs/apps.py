from django.apps import AppConfig


class EmailLogsConfig(AppConfig):
    name = "email_logs"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from tables.models import SystemType
        from tables.registry import RowSource, register

        from . import signals  # noqa: F401  (creates log tables when email integrations are enabled)
        from .models import EmailLogEntry, EmailSource, EmailStatus
        from .services import ensure_email_log_tables

        register(
            SystemType.EMAIL_LOG,
            RowSource(
                rows=lambda table: EmailLogEntry.objects.filter(table=table),
                ordering=("sent_at", "id"),
                filters={"status": "status", "source": "source"},
                filter_choices={"status": tuple(EmailStatus.values), "source": tuple(EmailSource.values)},
                search_fields=("to", "subject"),
                ensure_tables=ensure_email_log_tables,
            ),
        )
