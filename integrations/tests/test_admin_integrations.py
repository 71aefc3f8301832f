"""Django admin for staff: filters, search, write-only credential inputs, the API's rules, read-only logs."""

import re

import pytest
from django.test import Client

from integrations.models import Integration
from workspaces.models import User

pytestmark = pytest.mark.django_db

SECRET = "re_CANARY_admin_9a8b7c6d5e4f"


@pytest.fixture
def staff():
    client = Client()
    client.force_login(User.objects.create_superuser(email="staff@opbox.example", password="pw"))
    return client


def form_data(workspace, **overrides):
    data = {"workspace": workspace.pk, "name": "Production Email", "type": "EMAIL_PROVIDER",
            "config": '{"fromEmail": "noreply@acme.example"}', "enabled": "on", "credential_apiKey": SECRET}  # fmt: skip
    return {**data, **overrides}


def test_staff_add_an_integration_with_an_encrypted_credential(staff, workspace):
    response = staff.post("/admin/integrations/integration/add/", form_data(workspace, set_as_site_email_provider="on"))

    assert response.status_code == 302, response.content.decode()[:2000]
    integration = Integration.objects.get()
    assert integration.credentials == {"apiKey": SECRET}
    assert integration.is_site_email_provider
    assert integration.credential_fingerprints == {"apiKey": "re_CANA...****"}


def test_a_blank_credential_on_edit_keeps_the_stored_one(staff, workspace, make_integration):
    integration = make_integration("EMAIL_PROVIDER", credentials={"apiKey": SECRET})

    response = staff.post(
        f"/admin/integrations/integration/{integration.pk}/change/",
        form_data(workspace, name="Renamed", credential_apiKey=""),
    )

    assert response.status_code == 302
    integration = Integration.objects.get()
    assert integration.name == "Renamed" and integration.credentials == {"apiKey": SECRET}


@pytest.mark.parametrize(
    "overrides",
    [{"config": '{"fromEmail": "broken"}'}, {"config": '{"unknown": "x"}'}, {"type": "WEBHOOK", "credential_apiKey": "x"}, {"name": " "}],
)
def test_invalid_input_redisplays_the_form_without_the_secret(staff, workspace, overrides):
    response = staff.post("/admin/integrations/integration/add/", form_data(workspace, **overrides))

    assert response.status_code == 200  # the form again, with its errors: no 500, nothing saved
    assert "errornote" in response.content.decode()
    assert SECRET not in response.content.decode()
    assert not Integration.objects.exists()


def test_credential_inputs_are_password_fields_that_never_carry_a_value(staff, make_integration):
    integration = make_integration("EMAIL_PROVIDER", credentials={"apiKey": SECRET})

    html = staff.get(f"/admin/integrations/integration/{integration.pk}/change/").content.decode()

    inputs = re.findall(r'<input[^>]*name="credential_[^"]+"[^>]*>', html)
    assert inputs and all('type="password"' in tag and "value=" not in tag for tag in inputs)
    assert SECRET not in html
    assert "re_CANA...****" in html  # the fingerprint is shown


def test_the_list_filters_and_searches(staff, make_integration, other_workspace):
    make_integration("EMAIL_PROVIDER", name="Production Email")
    make_integration("WEBHOOK", name="Deploy Hook", enabled=False)
    make_integration("WEBHOOK", name="Globex Hook", in_workspace=other_workspace)

    def names(query):
        html = staff.get(f"/admin/integrations/integration/{query}").content.decode()
        return {n for n in ("Production Email", "Deploy Hook", "Globex Hook") if n in html}

    assert names("?type__exact=WEBHOOK") == {"Deploy Hook", "Globex Hook"}
    assert names("?enabled__exact=0") == {"Deploy Hook"}
    assert names(f"?workspace__id__exact={other_workspace.pk}") == {"Globex Hook"}
    assert names("?q=production") == {"Production Email"}


def test_email_log_rows_are_read_only_in_admin(staff, make_integration):
    make_integration("EMAIL_PROVIDER")

    assert staff.get("/admin/email_logs/emaillogentry/").status_code == 200
    assert staff.get("/admin/email_logs/emaillogentry/add/").status_code == 403
    assert staff.get("/admin/tables/table/add/").status_code == 403
