"""Fixtures shared by every app's tests: workspaces, people in each role, and API clients holding tokens."""

import pytest
import responses
from django.test import Client
from rest_framework.test import APIClient

from integrations import services as integration_services
from workspaces.models import Role
from workspaces.services import add_member, create_token, create_workspace


def pytest_addoption(parser):
    parser.addoption(
        "--require-services",
        action="store_true",
        help="fail, instead of skipping, the tests whose Chromium or Redis is missing (./scripts/test passes it)",
    )


def pytest_collection_modifyitems(config, items):
    from django.db import connection

    if connection.vendor != "postgresql":
        skip = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL=postgres://...)")
        for item in items:
            if "postgres" in item.keywords:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def unavailable(pytestconfig):
    """unavailable("Redis is not running ...") skips the test; under ./scripts/test (--require-services) it fails it."""

    def report(what):
        if pytestconfig.getoption("require_services"):
            pytest.fail(f"{what} (--require-services: under ./scripts/test that is a failure, not a skip)", pytrace=False)
        pytest.skip(what)

    return report


class FrozenClock:
    """A clock standing still at `at` (seconds since 1970) until the test calls `advance`."""

    def __init__(self, at: float):
        self.at = at

    def __call__(self) -> float:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += seconds


@pytest.fixture
def rate_limit_clock(monkeypatch):
    """Freezes the rate limiter's clock at the start of a window, so no test straddles two windows."""
    from opbox import ratelimit

    clock = FrozenClock(1_800_000_000)  # a multiple of every window the tests use (60, 300, 3600 s)
    monkeypatch.setattr(ratelimit, "now", clock)
    return clock


@pytest.fixture(autouse=True)
def fresh_cache():
    """Rate-limit counters and cached provider answers must not leak from one test into the next."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def mock():
    """responses' mock of every outbound HTTP request: a request nothing registered fails, and so does a
    registered one never made."""
    with responses.RequestsMock() as mock:
        yield mock


@pytest.fixture
def workspace(db):
    return create_workspace("acme", "Acme Legal")


@pytest.fixture
def other_workspace(db):
    return create_workspace("globex", "Globex Ops")


def _client_with_token(workspace, email, role) -> APIClient:
    add_member(workspace, email, role, password="correct horse battery staple")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {create_token(workspace, email)}")
    return client


@pytest.fixture
def api_as(workspace):
    """api_as(Role.ADMIN) -> an APIClient authenticated with a token of a fresh member of `workspace`."""
    counter = iter(range(1000))

    def make(role, in_workspace=None):
        ws = in_workspace or workspace
        return _client_with_token(ws, f"{role.lower()}{next(counter)}@{ws.slug}.example", role)

    return make


@pytest.fixture
def owner_api(api_as):
    return api_as(Role.OWNER)


@pytest.fixture
def admin_api(api_as):
    return api_as(Role.ADMIN)


@pytest.fixture
def member_api(api_as):
    return api_as(Role.MEMBER)


@pytest.fixture
def other_admin_api(api_as, other_workspace):
    return api_as(Role.ADMIN, other_workspace)


@pytest.fixture
def pages_as(workspace):
    """pages_as(Role.MEMBER) -> a Django test Client logged in as a fresh member of `workspace` (a browser)."""
    counter = iter(range(1000))

    def make(role, in_workspace=None, *, enforce_csrf_checks=False):
        ws = in_workspace or workspace
        membership = add_member(ws, f"{role.lower()}{next(counter)}@{ws.slug}.example", role)
        client = Client(enforce_csrf_checks=enforce_csrf_checks)
        client.force_login(membership.user)
        client.user = membership.user
        return client

    return make


@pytest.fixture
def anon_api():
    return APIClient()


@pytest.fixture
def make_integration(workspace):
    """make_integration(type="EMAIL_PROVIDER", **overrides) -> an Integration created through the service."""

    def make(type="EMAIL_PROVIDER", in_workspace=None, **overrides):
        defaults = {
            "EMAIL_PROVIDER": ({"fromEmail": "noreply@acme.example", "fromName": "Acme"}, {"apiKey": "re_test_1234567890abcdef"}),
            "EMAIL_PROVIDER_ALT": ({"fromEmail": "noreply@acme.example", "fromName": "Acme"}, {"apiKey": "SG.test_1234567890abcdef"}),
            "WEBHOOK": ({"url": "https://hooks.acme.example/in"}, {"secret": "whsec_1234567890abcdef"}),
        }.get(type, ({}, {}))
        arguments = {"name": f"{type.title()} integration", "config": defaults[0], "credentials": defaults[1]}
        arguments.update(overrides)
        return integration_services.create_integration(in_workspace or workspace, type=type, **arguments)

    return make
