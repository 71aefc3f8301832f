from django.contrib import admin

from opbox.admin import ReadOnlyAdmin

from .models import Document


@admin.register(Document)
class DocumentAdmin(ReadOnlyAdmin):
    """Document Log rows are records: read-only, never deleted here (retention deletes them with their files)."""

    list_display = ["generated_at", "filename", "template_id", "format", "status", "size", "source", "email_id"]
    list_filter = ["status", "format", "source", "workspace"]
    search_fields = ["filename", "template_id", "email_id", "id"]
    date_hierarchy = "generated_at"
    show_full_result_count = False
    readonly_fields = [f.name for f in Document._meta.fields]
