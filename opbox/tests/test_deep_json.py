"""JSON nested deeper than Python's parser can follow is a 400 on every JSON endpoint: DRF's parser let the
RecursionError through, which answered 500 (SPEC §8: no input gets a 5xx)."""

import pytest

pytestmark = pytest.mark.django_db

DEEP = {"array": b"[" * 100_000, "object": b'{"a":' * 100_000}
ENDPOINTS = [
    ("post", "/api/integrations"),
    ("patch", "/api/integrations/{integration}"),
    ("post", "/api/emails"),
    ("post", "/api/emails/batch"),
    ("post", "/api/suppressions"),
    ("patch", "/api/workspace"),
    ("post", "/api/privacy/erase"),
]


@pytest.mark.parametrize("shape", DEEP)
@pytest.mark.parametrize(("method", "path"), ENDPOINTS, ids=[f"{method} {path}" for method, path in ENDPOINTS])
def test_deeply_nested_json_is_a_400_on_every_json_endpoint(owner_api, make_integration, method, path, shape):
    integration = make_integration("EMAIL_PROVIDER", set_as_site_email_provider=True)

    response = getattr(owner_api, method)(path.format(integration=integration.pk), DEEP[shape], content_type="application/json")

    assert response.status_code == 400
    assert "JSON" in response.json()["detail"]


def test_json_nested_a_little_is_still_read(owner_api):
    response = owner_api.post("/api/suppressions", {"address": [[["ada@example.com"]]]}, format="json")

    assert response.status_code == 400 and "address" in response.json()  # read, then refused for what it holds
