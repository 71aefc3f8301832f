from django.contrib import admin

from opbox.admin import ReadOnlyAdmin

from .models import Column, Table


class ColumnInline(admin.TabularInline):
    model = Column
    fields = ["position", "name", "type", "field"]
    readonly_fields = fields
    extra = 0
    can_delete = False



@admin.register(Table)
class TableAdmin(ReadOnlyAdmin):
    """System tables are made by the services (init, hooks, migration); admin only shows them."""

    list_display = ["name", "system_type", "workspace", "integration", "created_at"]
    list_filter = ["system_type", "workspace"]
    search_fields = ["name", "id", "integration__name", "workspace__slug"]
    list_select_related = ["workspace", "integration"]
    inlines = [ColumnInline]
