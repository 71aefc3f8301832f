from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from opbox.admin import ReadOnlyAdmin

from .models import ApiToken, Membership, User, Workspace, WorkspaceEvent


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["email"]
    list_display = ["email", "first_name", "last_name", "is_staff", "is_active"]
    search_fields = ["email", "first_name", "last_name"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Personal info", {"fields": ["first_name", "last_name"]}),
        ("Permissions", {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]}),
        ("Important dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]})]


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Workspace)
class WorkspaceAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "created_at"]
    search_fields = ["slug", "name"]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "workspace", "role", "created_at"]
    list_filter = ["role", "workspace"]
    search_fields = ["user__email", "workspace__slug"]
    list_select_related = ["user", "workspace"]
    autocomplete_fields = ["user", "workspace"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are issued here once (the plaintext is shown in a message, then never again) and revoked."""

    list_display = ["__str__", "name", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["membership__workspace"]
    search_fields = ["name", "lookup", "membership__user__email"]
    list_select_related = ["membership__user", "membership__workspace"]
    fields = ["membership", "name", "lookup", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["lookup", "created_at", "last_used_at"]
    actions = ["revoke"]

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        token, plaintext = ApiToken.issue(obj.membership, name=obj.name)
        obj.pk = token.pk
        messages.warning(request, f"New API token (copy it now, it is not shown again): {plaintext}")

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request, queryset):
        for token in queryset.active():
            token.revoke()


@admin.register(WorkspaceEvent)
class WorkspaceEventAdmin(ReadOnlyAdmin):
    """The event outbox, read-only: what each workspace's subscribing integrations are told (SPEC §15)."""

    list_display = ["created_at", "type", "workspace"]
    list_filter = ["type", "workspace"]
    list_select_related = ["workspace"]

