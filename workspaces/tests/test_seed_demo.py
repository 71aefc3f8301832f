import re
from io import StringIO

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from workspaces.models import ApiToken, Workspace

pytestmark = pytest.mark.django_db


def test_seed_demo_creates_a_working_login_and_token_once():
    out = StringIO()
    call_command("seed_demo", stdout=out)
    token = re.search(r"API token: (\S+)", out.getvalue()).group(1)
    password = re.search(r"Password:  (\S+)", out.getvalue()).group(1)

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert client.get("/api/integrations").status_code == 200
    assert APIClient().login(email="demo@opbox.local", password=password)

    again = StringIO()
    call_command("seed_demo", stdout=again)
    assert "exists" in again.getvalue() and token not in again.getvalue()
    assert Workspace.objects.count() == 1 and ApiToken.objects.count() == 1
