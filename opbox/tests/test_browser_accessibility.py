"""Every page a person can open passes axe-core with zero violations, in Debian's Chromium.

The pages come from the page role matrix (test_page_role_matrix.PAGES, itself checked against the URL conf):
a new page is visited here without being listed. The add form is visited once per integration type, and a
log that holds a failed email, so the states that look different are all seen.
"""

import pytest
import responses
from django.urls import reverse

from email_logs.models import EmailLogEntry, EmailStatus
from integrations.types import TYPES
from opbox.tests.browser import PASSWORD, assert_accessible, log_in
from opbox.tests.conftest import DOCUMENT_ENGINE_URL
from opbox.tests.test_page_role_matrix import FILES, PAGES, _path
from workspaces.models import Role
from workspaces.services import add_member

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

def _visits(objects) -> list[str]:
    paths = []
    for route, methods in PAGES.items():
        if "GET" not in methods or route in FILES:
            continue
        if route == "integration-settings:create":
            base = reverse(route)
            paths += [f"{base}?type={type_name}" for type_name in TYPES] + [base]
        else:
            paths.append(_path(route, objects, "own"))
    return paths


def test_every_page_has_no_accessibility_violation(page, workspace, objects):
    EmailLogEntry.objects.filter(pk=objects["own"]["email"]).update(status=EmailStatus.FAILED, error="Bounced: ada@example.com - 550")
    add_member(workspace, "axe@acme.example", Role.OWNER, password=PASSWORD)

    page.goto(reverse("login"))
    assert_accessible(page)
    log_in(page, "axe@acme.example")
    visited = []
    templates = {"success": True, "hasMore": False, "nextCursor": None,
                 "data": [{"id": "tpl-letter", "versionId": "ab12", "name": "Engagement letter", "createdAt": 1767949200}]}  # fmt: skip
    with responses.RequestsMock(assert_all_requests_are_fired=False) as carbone:
        carbone.add(responses.GET, f"{DOCUMENT_ENGINE_URL}/templates", json=templates)  # "Render a test document" lists them
        for path in _visits(objects):
            response = page.goto(path)
            assert response.status == 200, path
            assert_accessible(page)
            visited.append(path)

    assert len(visited) >= len([route for route, methods in PAGES.items() if "GET" in methods])
