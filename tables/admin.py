from django.contrib import admin

from .models import Column, Table


class ColumnInline(admin.TabularInline):
    model = Column
    fields = ["position", "name", "type", "field"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Table)
class TableAdmin(admin.ModelAdmin):
    """System tables are made by the services (init, hooks, migration); admin only shows them."""

    list_display = ["name", "system_type", "workspace", "integration", "created_at"]
    list_filter = ["system_type", "workspace"]
    search_fields = ["name", "id", "integration__name", "workspace__slug"]
    list_select_related = ["workspace", "integration"]
    inlines = [ColumnInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
