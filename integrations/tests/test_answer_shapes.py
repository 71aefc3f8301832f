"""The list and detail answers are plain dicts built without serializer machinery (the hot path); the
serializers named in the OpenAPI schema must still describe them exactly."""

import pytest

from integrations import services
from integrations.models import Integration
from integrations.serializers import IntegrationDetailSerializer, IntegrationSerializer, integration_data, integration_detail_data

pytestmark = pytest.mark.django_db

KINDS = ["EMAIL_PROVIDER", "EMAIL_PROVIDER_ALT", "WEBHOOK", "CLOUD_STORAGE", "WEBHOOK_PLATFORM"]


@pytest.fixture
def integrations(make_integration, workspace):
    for kind in KINDS:
        make_integration(kind)
    Integration.objects.filter(type="WEBHOOK").update(enabled=False)
    return list(Integration.objects.filter(workspace=workspace).order_by("-created_at", "-id"))


def test_the_list_dicts_are_what_the_documented_serializer_gives(integrations, workspace):
    rows = services.integration_rows(workspace)

    assert [integration_data(row) for row in rows] == IntegrationSerializer(integrations, many=True).data


def test_the_detail_dicts_are_what_the_documented_serializer_gives(integrations):
    for integration in integrations:
        assert integration_detail_data(integration) == IntegrationDetailSerializer(integration).data


def test_the_list_answer_is_the_serializer_shape_newest_first(admin_api, integrations):
    assert admin_api.get("/api/integrations").json() == IntegrationSerializer(integrations, many=True).data


def test_one_integration_is_found_only_in_its_own_workspace(integrations, workspace, other_workspace):
    assert services.integration_in(workspace, integrations[0].pk) == integrations[0]
    with pytest.raises(Integration.DoesNotExist):
        services.integration_in(other_workspace, integrations[0].pk)
