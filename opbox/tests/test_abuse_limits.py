"""Abuse limits: failed token checks are throttled, large bodies refused before they are read."""

import pytest
from rest_framework.test import APIClient

# The limiter's clock stands still: a test's requests can never straddle two windows.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("rate_limit_clock")]


def test_repeated_bad_tokens_from_one_address_get_429_with_retry_after(settings, member_api):
    settings.AUTH_FAILURES_PER_ADDRESS = 5
    attacker = APIClient()
    attacker.credentials(HTTP_AUTHORIZATION="Bearer opbx_guessing0000000000000000000000000000000")

    statuses = [attacker.get("/api/integrations").status_code for _ in range(7)]

    assert statuses == [401] * 5 + [429] * 2
    throttled = attacker.get("/api/integrations")
    assert throttled["Retry-After"] == str(settings.AUTH_FAILURE_WINDOW)  # the clock stands at the window's start


def test_the_limit_lifts_when_its_window_ends_and_not_a_second_before(settings, rate_limit_clock):
    settings.AUTH_FAILURES_PER_ADDRESS = 2
    attacker = APIClient()
    attacker.credentials(HTTP_AUTHORIZATION="Bearer opbx_guessing0000000000000000000000000000000")
    assert [attacker.get("/api/integrations").status_code for _ in range(3)] == [401, 401, 429]

    rate_limit_clock.advance(settings.AUTH_FAILURE_WINDOW - 1)
    last_second = attacker.get("/api/integrations")
    rate_limit_clock.advance(1)
    next_window = attacker.get("/api/integrations")

    assert (last_second.status_code, last_second["Retry-After"]) == (429, "1")
    assert next_window.status_code == 401


def test_guessing_one_token_is_limited_per_token_even_across_addresses(settings):
    settings.AUTH_FAILURES_PER_ACCOUNT = 3
    token = "Bearer opbx_sametokenprefix_but_wrong_rest_000000000000"
    statuses = []
    for address in range(5):
        client = APIClient(REMOTE_ADDR=f"10.0.0.{address}")
        client.credentials(HTTP_AUTHORIZATION=token)
        statuses.append(client.get("/api/integrations").status_code)

    assert statuses == [401, 401, 401, 429, 429]


def test_valid_tokens_are_not_throttled_by_someone_elses_failures(settings, member_api):
    settings.AUTH_FAILURES_PER_ADDRESS = 2
    attacker = APIClient(REMOTE_ADDR="203.0.113.9")
    attacker.credentials(HTTP_AUTHORIZATION="Bearer opbx_nope")
    for _ in range(5):
        attacker.get("/api/integrations")

    assert member_api.get("/api/integrations").status_code == 200


def test_a_body_over_the_limit_is_a_413(settings, admin_api):
    settings.MAX_REQUEST_BODY_BYTES = 1000

    response = admin_api.post("/api/integrations", {"name": "x" * 2000, "type": "WEBHOOK"}, format="json")

    assert response.status_code == 413
    assert "too large" in response.json()["detail"]


def test_page_size_is_capped_at_200_rows(member_api, make_integration):
    from email_logs.models import EmailLogEntry
    from tables.models import Table

    table = Table.objects.get(integration=make_integration("EMAIL_PROVIDER"))
    EmailLogEntry.objects.bulk_create(
        EmailLogEntry(table=table, to="a@example.com", from_address="n@acme.example", subject=f"s{i}",
                      status="failed", provider="email-provider-a", source="Form Send")
        for i in range(205)
    )  # fmt: skip

    body = member_api.get(f"/api/tables/{table.id}/rows?pageSize=100000").json()

    assert len(body["results"]) == 200
    assert body["next"] is not None
