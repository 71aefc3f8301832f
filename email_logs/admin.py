from django.contrib import admin

from .models import EmailLogEntry


@admin.register(EmailLogEntry)
class EmailLogEntryAdmin(admin.ModelAdmin):
    """Log rows are records: read-only, never deleted here."""

    list_display = ["sent_at", "to", "subject", "status", "provider", "source", "attachment_count"]
    list_filter = ["status", "provider", "source", "table__workspace"]
    search_fields = ["to", "subject", "message_id", "id"]
    date_hierarchy = "sent_at"
    list_select_related = ["table"]
    # Page links without a COUNT(*) over millions of rows.
    show_full_result_count = False
    readonly_fields = [f.name for f in EmailLogEntry._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # staff keep the view permission: the change page shows the row read-only

    def has_delete_permission(self, request, obj=None):
        return False
