"""Schemathesis against our own OpenAPI schema, in-process over WSGI, as each role.

Every generated request must get a non-5xx answer that conforms to the schema. The quick run (default
examples) is part of every test run; `-m slow` runs 100+ cases per operation (.ci/run includes it).
"""

import pytest
import responses
from django.core import signals
from django.db import close_old_connections
import schemathesis
from schemathesis.checks import positive_data_acceptance
from hypothesis import HealthCheck, settings as hypothesis_settings

from opbox.wsgi import application
from workspaces.models import Role

schema = schemathesis.openapi.from_wsgi("/api/schema/", application)

FUZZ = hypothesis_settings(
    max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None
)
FUZZ_DEEP = hypothesis_settings(FUZZ, max_examples=120)


@pytest.fixture(autouse=True)
def keep_test_connection_open():
    """Calling the WSGI app directly fires request_finished, whose close_old_connections would close the
    test's connection mid-transaction on PostgreSQL (Django's test client unhooks it the same way)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def tokens(db, workspace, make_integration, api_as, settings):
    # The fuzzer sends thousands of bad tokens on purpose: keep the abuse limit out of its way.
    settings.AUTH_FAILURES_PER_ADDRESS = settings.AUTH_FAILURES_PER_ACCOUNT = 10**6
    make_integration("EMAIL_PROVIDER", set_as_site_email_provider=True)
    make_integration("EMAIL_PROVIDER_ALT")
    make_integration("WEBHOOK")
    return {role: api_as(role)._credentials["HTTP_AUTHORIZATION"] for role in (Role.MEMBER, Role.ADMIN, Role.OWNER)}


def _fake_providers():
    mock = responses.RequestsMock(assert_all_requests_are_fired=False)
    mock.add(responses.GET, "https://provider-a.test/templates", json={"object": "list", "data": [], "has_more": False})
    mock.add(responses.GET, "https://provider-b.test/v3/templates", json={"result": [], "_metadata": {}})
    mock.add(responses.POST, "https://provider-a.test/emails", json={"id": "fuzz-message"})
    mock.add(responses.POST, "https://provider-b.test/v3/mail/send", status=202, headers={"X-Message-Id": "fuzz-b"})
    return mock


def _exercise(case, token):
    with _fake_providers():
        # Schema-valid input can still break a domain rule (a credential key the type lacks, base64 that
        # is not): those are 400s by design, so "valid data must be accepted" is not checked.
        case.call_and_validate(headers={"Authorization": token}, excluded_checks=[positive_data_acceptance])


@pytest.mark.parametrize("role", [Role.MEMBER, Role.ADMIN])
@schema.parametrize()
@FUZZ
def test_every_operation_answers_within_its_schema(case, role, tokens):
    _exercise(case, tokens[role])


@pytest.mark.slow
@schema.parametrize()
@FUZZ_DEEP
def test_every_operation_holds_up_under_many_cases_as_owner(case, tokens):
    _exercise(case, tokens[Role.OWNER])


@schema.parametrize()
@hypothesis_settings(FUZZ, max_examples=5)
def test_every_operation_needs_credentials(case, db, settings):
    settings.AUTH_FAILURES_PER_ADDRESS = settings.AUTH_FAILURES_PER_ACCOUNT = 10**6
    response = case.call()
    assert response.status_code == 401, case.as_curl_command()
