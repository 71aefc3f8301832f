"""Credentials are never shown, so they must not be sent elsewhere by changing a URL alone: moving the URL
they go to (Carbone's, Airtable's) onto another host needs them entered again, on save and on a check of
unsaved values alike. A new path on the same host does not."""

import pytest

from integrations.models import Integration
from integrations.services import create_integration

from . import services as svc

pytestmark = pytest.mark.django_db


@pytest.fixture
def carbone(workspace):
    config, credentials = svc.VALUES["DOCUMENT_ENGINE"]
    return create_integration(workspace, name="Carbone", type="DOCUMENT_ENGINE", config=config, credentials=credentials)


@pytest.fixture
def airtable(workspace):
    config, credentials = svc.VALUES["EXTERNAL_DATABASE"]  # no baseUrl: Airtable's own
    return create_integration(workspace, name="Airtable", type="EXTERNAL_DATABASE", config=config, credentials=credentials)


ELSEWHERE = ["https://collector.example", "http://carbone.acme.example", "https://carbone.acme.example:8443"]


@pytest.mark.parametrize("url", ELSEWHERE, ids=["another host", "another scheme", "another port"])
def test_moving_the_url_elsewhere_without_the_key_is_a_400_and_calls_nobody(admin_api, carbone, mock, url):
    patched = admin_api.patch(f"/api/integrations/{carbone.pk}", {"config": {"baseUrl": url}}, format="json")
    checked = admin_api.post(f"/api/integrations/{carbone.pk}/check", {"config": {"baseUrl": url}}, format="json")

    for response in (patched, checked):
        assert response.status_code == 400, response.content
        assert "enter the API key again" in str(response.json()["credentials"])
    assert Integration.objects.get(pk=carbone.pk).config["baseUrl"] == svc.CARBONE
    assert not mock.calls


def test_with_the_key_entered_again_the_url_moves(admin_api, carbone):
    body = {"config": {"baseUrl": "https://carbone.other.example"}, "credentials": {"apiKey": "carbone_new_key_0123"}}

    response = admin_api.patch(f"/api/integrations/{carbone.pk}", body, format="json")

    assert response.status_code == 200, response.content
    assert Integration.objects.get(pk=carbone.pk).config["baseUrl"] == "https://carbone.other.example"


def test_another_path_on_the_same_host_needs_no_key(admin_api, carbone):
    response = admin_api.patch(f"/api/integrations/{carbone.pk}", {"config": {"baseUrl": f"{svc.CARBONE}/v5/"}}, format="json")

    assert response.status_code == 200, response.content


def test_leaving_the_services_default_url_for_a_typed_one_needs_the_token(admin_api, airtable, mock):
    response = admin_api.patch(
        f"/api/integrations/{airtable.pk}", {"config": {"baseUrl": "https://airtable.proxy.example"}}, format="json"
    )

    assert response.status_code == 400
    assert "enter the API token again" in str(response.json()["credentials"])
    assert "baseUrl" not in Integration.objects.get(pk=airtable.pk).config


def test_the_settings_page_says_so_and_keeps_the_url(pages_as, carbone, mock):
    form = {"name": "Carbone", "config_baseUrl": "https://collector.example", "enabled": "on"}

    response = pages_as("ADMIN").post(f"/settings/integrations/{carbone.pk}/", form)

    assert response.status_code == 400  # the form again, with the refusal above it
    assert "enter the API key again" in response.content.decode()
    assert Integration.objects.get(pk=carbone.pk).config["baseUrl"] == svc.CARBONE
    assert not mock.calls
