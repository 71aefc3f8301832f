from django.contrib import admin


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records staff may look at but never add, change or delete here (logs, audit events, system tables)."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
