"""Django admin for staff: type first, then that type's own inputs; write-only credentials, the API's rules,
filters and search, read-only logs."""

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


ADD_EMAIL_PROVIDER = "/admin/integrations/integration/add/?type=EMAIL_PROVIDER"


def form_data(in_workspace, **overrides):
    data = {"workspace": in_workspace.pk, "name": "Production Email", "config_fromEmail": "noreply@acme.example",
            "enabled": "on", "credential_apiKey": SECRET}  # fmt: skip
    return {key: value for key, value in {**data, **overrides}.items() if value is not None}


def test_staff_add_an_integration_with_an_encrypted_credential(staff, workspace):
    response = staff.post(ADD_EMAIL_PROVIDER, form_data(workspace, site_email_provider="on"))

    assert response.status_code == 302, response.content.decode()[:2000]
    integration = Integration.objects.get()
    assert integration.type == "EMAIL_PROVIDER" and integration.config == {"fromEmail": "noreply@acme.example"}
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
    [{"config_fromEmail": "broken"}, {"name": " "}, {"enabled": None, "site_email_provider": "on"}, {"workspace": None}],
)
def test_invalid_input_redisplays_the_form_without_the_secret(staff, workspace, overrides):
    response = staff.post(ADD_EMAIL_PROVIDER, form_data(workspace, **overrides))

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


# One type's own inputs --------------------------------------------------------------------------

CREDENTIAL_NAMES = ["apiKey", "secret", "botToken", "apiToken", "accessToken", "refreshToken"]
BOT_TOKEN = "xoxb-CANARY-admin-1234567890"


def input_names(html) -> set[str]:
    return set(re.findall(r'<(?:input|textarea|select)[^>]*name="([^"]+)"', html))


def test_a_slack_change_page_shows_only_slacks_labelled_inputs(staff, make_integration):
    slack = make_integration(
        "SLACK", name="Ops alerts", config={"channel": "#ops", "webhookUrl": "https://hooks.slack.example/T1"},
        credentials={"botToken": BOT_TOKEN},
    )  # fmt: skip

    html = staff.get(f"/admin/integrations/integration/{slack.pk}/change/").content.decode()

    names = input_names(html)
    assert {"config_channel", "config_webhookUrl", "credential_botToken", "remove_botToken"} <= names
    assert not {f"credential_{n}" for n in CREDENTIAL_NAMES if n != "botToken"} & names
    assert "config" not in names and "<textarea" not in html and "site_email_provider" not in names
    assert ">Channel" in html and ">Webhook URL" in html and ">Bot token" in html
    assert 'value="#ops"' in html
    assert BOT_TOKEN not in html and "xoxb-CA...****" in html


def test_adding_starts_by_choosing_the_type(staff):
    chooser = staff.get("/admin/integrations/integration/add/").content.decode()
    slack_form = staff.get("/admin/integrations/integration/add/?type=SLACK").content.decode()

    assert len(set(re.findall(r'href="\?type=([A-Z_]+)"', chooser))) == 9
    assert "credential_" not in chooser and "<textarea" not in chooser
    assert {"workspace", "name", "config_channel", "credential_botToken"} <= input_names(slack_form)
    assert "credential_apiKey" not in slack_form and "site_email_provider" not in slack_form


def test_an_added_slack_integration_is_validated_like_the_api(staff, workspace, admin_api):
    data = {"workspace": workspace.pk, "name": "Ops alerts", "enabled": "on", "config_channel": "#ops",
            "config_webhookUrl": "http://hooks.slack.example/T1", "credential_botToken": BOT_TOKEN}  # fmt: skip
    api_body = {"name": "Ops alerts", "type": "SLACK", "config": {"webhookUrl": "http://hooks.slack.example/T1"}}

    refused = staff.post("/admin/integrations/integration/add/?type=SLACK", data)
    api_refused = admin_api.post("/api/integrations", api_body, format="json")
    added = staff.post("/admin/integrations/integration/add/?type=SLACK", {**data, "config_webhookUrl": "https://hooks.slack.example/T1"})

    assert refused.status_code == 200 and "Enter a valid https URL." in refused.content.decode()
    assert api_refused.status_code == 400 and "Enter a valid https URL." in str(api_refused.json())
    assert added.status_code == 302
    slack = Integration.objects.get()
    assert (slack.type, slack.config["channel"], slack.credentials) == ("SLACK", "#ops", {"botToken": BOT_TOKEN})


def test_a_stored_secret_can_be_removed_and_a_cleared_config_value_is_dropped(staff, workspace, make_integration):
    integration = make_integration("EMAIL_PROVIDER", credentials={"apiKey": SECRET})

    response = staff.post(
        f"/admin/integrations/integration/{integration.pk}/change/",
        form_data(workspace, credential_apiKey="", remove_apiKey="on", config_fromEmail="", config_fromName="Acme"),
    )

    assert response.status_code == 302
    integration = Integration.objects.get()
    assert integration.credentials == {} and integration.credential_fingerprints == {}
    assert integration.config == {"fromName": "Acme"}


def test_the_admin_shows_the_last_check_read_only(client, db, workspace):
    from django.contrib.auth import get_user_model

    from integrations.connection_checks import CheckOutcome, record_check
    from integrations.services import create_integration

    staff = get_user_model().objects.create_superuser(email="check-staff@opbox.example", password="pw")
    client.force_login(staff)
    integration = create_integration(workspace, name="CRM", type="CRM_PLATFORM", config={"portalId": "1"}, credentials={"accessToken": "pat-x"})
    from django.utils import timezone

    record_check(integration, CheckOutcome(False, "HubSpot says this token belongs to portal 2.", timezone.now(), 502))

    page = client.get(f"/admin/integrations/integration/{integration.pk}/change/").content.decode()

    assert "HubSpot says this token belongs to portal 2." in page
    assert 'name="last_check_detail"' not in page and 'name="last_check_ok"' not in page  # shown, not editable
