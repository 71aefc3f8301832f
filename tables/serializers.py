from rest_framework import serializers

from opbox.api import TimestampField

from .services import row_values


class ColumnSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    type = serializers.CharField()
    position = serializers.IntegerField()


class TableSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    systemType = serializers.CharField(source="system_type")
    integrationId = serializers.CharField(source="integration_id", allow_null=True)
    createdAt = TimestampField(source="created_at")


class TableDetailSerializer(TableSerializer):
    columns = ColumnSerializer(many=True)


class RowSerializer(serializers.Serializer):
    """`{"id", "createdAt", "values": {column name: value}}`; the view passes the table's columns in context."""

    id = serializers.CharField()
    createdAt = TimestampField(source="created_at")
    values = serializers.SerializerMethodField()

    def get_values(self, row) -> dict:
        return row_values(self.context["columns"], row)


class RowPageSerializer(serializers.Serializer):
    results = RowSerializer(many=True)
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
