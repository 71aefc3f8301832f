"""Schemathesis against our own OpenAPI schema, in-process over WSGI, as each role.

Every generated request must get a non-5xx answer that conforms to the schema. A generated id is
almost never one that exists (a 404), so each case with an id in its path runs again on real objects
from the fixture, and a rows case with a cursor again with a real one. The quick run (default
examples) is part of every test run; `-m slow` runs 100+ cases per operation (.ci/run includes it).
"""

import json
import re
from datetime import datetime, timedelta, timezone
from itertools import count

import pytest
import responses
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error, positive_data_acceptance

from deliveries.models import Delivery
from documents.tests.factories import add_document
from email_logs.events.suppressions import record_suppressions
from email_logs.models import Suppression, SuppressionReason
from email_logs.tests.factories import add_rows
from integrations.models import Integration
from opbox.tests.conftest import DOCUMENT_ENGINE_URL
from opbox.wsgi import application
from tables.models import Table
from tables.services import row_page, row_query
from workspaces.models import Role, WorkspaceEvent

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
    make_integration("DOCUMENT_ENGINE", config={"baseUrl": DOCUMENT_ENGINE_URL}, credentials={"apiKey": "carbone_fuzz_key"})
    return {role: api_as(role)._credentials["HTTP_AUTHORIZATION"] for role in (Role.MEMBER, Role.ADMIN, Role.OWNER)}


@pytest.fixture
def real(tokens, workspace, make_integration):
    """real() -> path parameters naming objects that exist now: in turn each integration `tokens` made
    (a new one when fuzzed DELETEs removed them all), its Email Log table, and a real rows `cursor`."""
    table = Table.objects.get(workspace=workspace, integration__is_site_email_provider=True)
    emails = add_rows(table, 5)
    record_suppressions(workspace, [(f"bounced{i}@example.com", SuppressionReason.BOUNCED, emails[i].pk) for i in range(3)])
    # From the service: a test-client request would hook close_old_connections back up (see above).
    cursor = row_page(table, row_query(table, {}), page_size=2).next_cursor
    document = add_document(Integration.objects.get(workspace=workspace, type="DOCUMENT_ENGINE"))
    turn = count()

    def ids():
        integrations = list(Integration.objects.filter(workspace=workspace).order_by("pk").values_list("pk", flat=True))
        integrations = integrations or [make_integration("WEBHOOK").pk]
        # A fuzzed DELETE may have removed the suppressions: then a new one.
        address = Suppression.objects.filter(workspace=workspace).values_list("address", flat=True).first()
        if address is None:
            address = "again@example.com"
            record_suppressions(workspace, [(address, SuppressionReason.MANUAL, None)])
        # A fuzzed DELETE of its webhook takes a delivery with it: then a new webhook, event and delivery.
        delivery = Delivery.objects.filter(workspace=workspace).values_list("pk", flat=True).first()
        if delivery is None:
            webhook = Integration.objects.filter(workspace=workspace, type="WEBHOOK").first() or make_integration("WEBHOOK")
            event = WorkspaceEvent.objects.create(workspace=workspace, type="email.failed", data={"id": emails[0].pk})
            delivery = Delivery.objects.create(
                workspace=workspace, integration=webhook, event=event, event_type=event.type, status="failed", attempts=1, round_attempts=1
            ).pk
        return {
            "delivery_id": delivery,
            "integration_id": integrations[next(turn) % len(integrations)],
            "table_id": table.pk,
            "cursor": cursor,
            "email_id": emails[0].pk,
            "address": address,
            "document_id": document.pk,
        }

    return ids


def _fake_providers():
    mock = responses.RequestsMock(assert_all_requests_are_fired=False)
    mock.add(responses.GET, "https://provider-a.test/templates", json={"object": "list", "data": [], "has_more": False})
    mock.add(responses.GET, "https://provider-b.test/v3/templates", json={"result": [], "_metadata": {}})
    mock.add(responses.POST, "https://provider-a.test/emails", json={"id": "fuzz-message"})
    mock.add(responses.POST, "https://provider-b.test/v3/mail/send", status=202, headers={"X-Message-Id": "fuzz-b"})
    mock.add(responses.GET, f"{DOCUMENT_ENGINE_URL}/templates", json={"success": True, "data": [], "hasMore": False})
    mock.add(responses.POST, re.compile(rf"{re.escape(DOCUMENT_ENGINE_URL)}/render/.*"), body=b"%PDF-1.7", content_type="application/pdf")
    return mock


def _exercise(case, token, real):
    with _fake_providers():
        _check(case, token)
        if not case.path_parameters:
            return
        ids = real()
        case.path_parameters = {name: ids[name] for name in case.path_parameters}
        response = _check(case, token)
        assert response.status_code != 404, f"a real object was not found: {case.as_curl_command()}"
        if "cursor" in case.query:
            case.query = {**case.query, "cursor": ids["cursor"]}
            _check(case, token)


# A connection check of fuzzed values answers the failure it finds: 502 (refused, missing, unreachable: every
# service is mocked or refused here), 503 (a deploy problem), 504, each documented. Only those are allowed.
CHECK_FAILURES = (502, 503, 504)


def _check(case, token):
    # Schema-valid input can still break a domain rule (a credential key the type lacks, base64 that
    # is not): those are 400s by design, so "valid data must be accepted" is not checked.
    excluded = [positive_data_acceptance]
    if case.path.endswith("/check"):
        excluded.append(not_a_server_error)
    response = case.call_and_validate(headers={"Authorization": token}, excluded_checks=excluded)
    assert response.status_code < 500 or (case.path.endswith("/check") and response.status_code in CHECK_FAILURES), case.as_curl_command()
    return response


@pytest.mark.parametrize("role", [Role.MEMBER, Role.ADMIN])
@schema.parametrize()
@FUZZ
def test_every_operation_answers_within_its_schema(case, role, tokens, real):
    _exercise(case, tokens[role], real)


@pytest.mark.slow
@schema.parametrize()
@FUZZ_DEEP
def test_every_operation_holds_up_under_many_cases_as_owner(case, tokens, real):
    _exercise(case, tokens[Role.OWNER], real)


@schema.parametrize()
@hypothesis_settings(FUZZ, max_examples=5)
def test_every_operation_needs_credentials(case, db, settings):
    settings.AUTH_FAILURES_PER_ADDRESS = settings.AUTH_FAILURES_PER_ACCOUNT = 10**6
    response = case.call()
    if case.path.startswith("/api/webhooks/") and case.method.upper() != "POST":
        # A receiver's credential is the signature of a POST: its DRF view allows anyone to reach it, so
        # another method is refused for what it is.
        assert response.status_code == 405, case.as_curl_command()
    else:
        assert response.status_code == 401, case.as_curl_command()


# The receivers past their signature: schemathesis cannot sign, so the bodies below are signed here, the way
# each provider signs, and must get a 200 or a 400, never a 5xx (SPEC §9).

_JSON_LEAF = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30)
_JSON = st.recursive(_JSON_LEAF, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=10)
_SENDGRID_KEYS = ["email", "timestamp", "event", "sg_event_id", "sg_message_id", "reason", "type", "opbox_email_id", "response", "url"]
_SENDGRID_VALUES = {
    "event": st.sampled_from(["processed", "delivered", "deferred", "bounce", "dropped", "spamreport", "open", "click", "unsubscribe", "nope"]),
    "timestamp": st.integers(min_value=-(10**20), max_value=10**20) | _JSON_LEAF,
    "type": st.sampled_from(["bounce", "blocked"]) | _JSON_LEAF,
}
_SENDGRID_ANY = {key: _SENDGRID_VALUES.get(key, st.text(max_size=40) | _JSON_LEAF) for key in _SENDGRID_KEYS}
_SENDGRID_EVENT = st.fixed_dictionaries({}, optional=_SENDGRID_ANY) | st.fixed_dictionaries(
    {"event": _SENDGRID_VALUES["event"], "sg_event_id": st.text(min_size=1, max_size=12), "email": st.emails(),
     "timestamp": st.integers(min_value=0, max_value=4_000_000_000)},
    optional={key: _SENDGRID_ANY[key] for key in ("sg_message_id", "reason", "type", "response", "url")},
)  # fmt: skip
# Generated timestamps in every form a provider writes (ISO with `T` or a space, `Z` or an offset, no offset),
# over all of datetime's years and every offset; the first and last days of that range are drawn often, so
# times whose UTC form leaves years 1-9999 come up too.
_MOMENT = st.datetimes() | st.datetimes(max_value=datetime(1, 1, 2)) | st.datetimes(min_value=datetime(9999, 12, 31))
_OFFSET = st.timedeltas(min_value=-timedelta(hours=23, minutes=59), max_value=timedelta(hours=23, minutes=59))
_TIMESTAMP = st.builds(
    lambda moment, offset, separator, zulu: (
        moment.isoformat(sep=separator) if offset is None
        else moment.replace(tzinfo=timezone(offset)).isoformat(sep=separator).replace("+00:00", "Z" if zulu else "+00:00")
    ),
    _MOMENT, st.none() | st.just(timedelta(0)) | _OFFSET, st.sampled_from(["T", " "]), st.booleans(),
)  # fmt: skip
_RESEND_BODY = st.fixed_dictionaries(
    {"type": st.sampled_from(["email.sent", "email.delivered", "email.bounced", "email.failed", "email.complained", "x"])},
    optional={
        "created_at": _TIMESTAMP | _JSON_LEAF,
        "data": st.fixed_dictionaries(
            {}, optional={"email_id": st.text(max_size=20) | _JSON_LEAF, "to": _JSON, "bounce": _JSON, "failed": _JSON, "click": _JSON}
        ) | _JSON,
    },
)


@pytest.fixture
def signed_receivers(make_integration):
    from email_logs.tests.signing import RESEND_SECRET, SendGridSigner, resend_headers
    from email_logs.tests.webhook_helpers import logged, webhook_path

    signer = SendGridSigner()
    a = make_integration("EMAIL_PROVIDER", credentials={"apiKey": "re_fuzz_1234567890", "webhookSigningSecret": RESEND_SECRET})
    b = make_integration("EMAIL_PROVIDER_ALT", config={"fromEmail": "a@acme.example", "webhookVerificationKey": signer.verification_key})
    row_a, row_b = logged(a, message_id="re-1"), logged(b, message_id="sg-1")
    return {
        "a": (webhook_path(a), lambda body: resend_headers(RESEND_SECRET, body), row_a.pk),
        "b": (webhook_path(b), signer.headers, row_b.pk),
    }


@given(body=st.one_of(
    st.tuples(st.just("a"), _RESEND_BODY | _JSON),
    st.tuples(st.just("b"), st.lists(_SENDGRID_EVENT | _JSON, max_size=5) | _JSON),
))  # fmt: skip
@hypothesis_settings(FUZZ, max_examples=150)
def test_signed_webhook_bodies_never_get_a_5xx(client, signed_receivers, body):
    provider, payload = body
    path, sign, row_id = signed_receivers[provider]
    if provider == "b" and isinstance(payload, list):  # some events about a real row
        payload = [dict(item, opbox_email_id=row_id) if isinstance(item, dict) and len(item) % 2 else item for item in payload]
    raw = json.dumps(payload).encode()

    response = client.post(path, raw, content_type="application/json", **sign(raw))

    assert response.status_code in (200, 400), (response.status_code, raw[:300])


@given(created_at=_TIMESTAMP, kind=st.sampled_from(["email.delivered", "email.bounced"]))
@hypothesis_settings(FUZZ, max_examples=100)
def test_signed_resend_event_times_never_get_a_5xx(client, signed_receivers, created_at, kind):
    path, sign, _ = signed_receivers["a"]
    raw = json.dumps({"type": kind, "created_at": created_at, "data": {"email_id": "re-1", "to": ["ada@example.com"]}}).encode()

    response = client.post(path, raw, content_type="application/json", **sign(raw))

    assert response.status_code in (200, 400), (response.status_code, created_at)
