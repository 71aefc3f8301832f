"""Tables as users browse them: a table with ordered, typed columns.

A system table (systemType EMAIL_LOG, say) keeps its rows in a typed model of the app that owns it;
`Column.field` names the attribute of that model each column shows. See `tables.registry`.
"""

from django.db import models
from django.db.models import Q
from django.utils import timezone

from integrations.models import Integration
from opbox.ids import PublicIdField
from workspaces.models import Workspace


class SystemType(models.TextChoices):
    EMAIL_LOG = "EMAIL_LOG", "Email log"
    DOCUMENT_LOG = "DOCUMENT_LOG", "Document log"
    DELIVERY_LOG = "DELIVERY_LOG", "Delivery log"


class ColumnType(models.TextChoices):
    TEXT = "Text"
    DATE = "Date"
    NUMBER = "Number"


class Table(models.Model):
    id = PublicIdField()
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="tables")
    name = models.CharField(max_length=255)
    system_type = models.CharField(max_length=32, choices=SystemType.choices, blank=True, default="")
    # Kept when the integration is deleted: logs are records (the link becomes null).
    integration = models.ForeignKey(
        Integration, on_delete=models.SET_NULL, null=True, blank=True, related_name="tables"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["workspace", "system_type"], name="table_by_workspace_type")]
        constraints = [
            # One Email Log per integration: concurrent inits collide here, not in a check-then-insert.
            models.UniqueConstraint(
                fields=["integration", "system_type"],
                condition=Q(integration__isnull=False),
                name="one_system_table_per_integration",
            ),
        ]

    def __str__(self):
        return self.name


class Column(models.Model):
    id = PublicIdField()
    table = models.ForeignKey(Table, on_delete=models.CASCADE, related_name="columns")
    name = models.CharField(max_length=255)
    type = models.CharField(max_length=16, choices=ColumnType.choices)
    position = models.PositiveSmallIntegerField()
    field = models.CharField(max_length=64, help_text="Attribute of the row model this column shows.")

    class Meta:
        ordering = ["table", "position"]
        constraints = [
            models.UniqueConstraint(fields=["table", "position"], name="one_column_per_position"),
            models.UniqueConstraint(fields=["table", "name"], name="column_names_unique_per_table"),
        ]

    def __str__(self):
        return f"{self.table}: {self.name}"
