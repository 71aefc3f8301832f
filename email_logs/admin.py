from django.contrib import admin

from opbox.admin import ReadOnlyAdmin

from .models import EmailLogEntry


@admin.register(EmailLogEntry)
class EmailLogEntryAdmin(ReadOnlyAdmin):
    """Log rows are records: read-only, never deleted here."""

    list_display = ["sent_at", "to", "subject", "status", "provider", "source", "attachment_count"]
    list_filter = ["status", "provider", "source", "table__workspace"]
    search_fields = ["to", "subject", "message_id", "id"]
    date_hierarchy = "sent_at"
    list_select_related = ["table"]
    # Page links without a COUNT(*) over millions of rows.
    show_full_result_count = False
    readonly_fields = [f.name for f in EmailLogEntry._meta.fields]
