"""Failed logins are limited per account and per client address: 429 with Retry-After."""

import pytest
from django.test import Client

from workspaces.models import User

# The limiter's clock stands still: a test's logins can never straddle two windows.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("rate_limit_clock")]

PASSWORD = "the right password 123"


@pytest.fixture(autouse=True)
def people(settings):
    settings.AUTH_FAILURES_PER_ACCOUNT = 3
    settings.AUTH_FAILURES_PER_ADDRESS = 5
    User.objects.create_superuser(email="ada@example.com", password=PASSWORD)
    User.objects.create_superuser(email="bob@example.com", password=PASSWORD)


def login(email, password, address="192.0.2.1"):
    return Client(REMOTE_ADDR=address).post(
        "/admin/login/", {"username": email, "password": password, "next": "/admin/"}
    )


def test_an_account_is_locked_after_repeated_failures_even_with_the_right_password(settings):
    statuses = [login("ada@example.com", "wrong").status_code for _ in range(3)]
    locked = login("ada@example.com", PASSWORD, address="198.51.100.7")  # another address, right password

    assert statuses == [200, 200, 200]  # the form again, "please enter a correct email and password"
    assert (locked.status_code, locked["Retry-After"]) == (429, str(settings.AUTH_FAILURE_WINDOW))
    assert login("bob@example.com", PASSWORD).status_code == 302  # other accounts are unaffected


def test_an_address_is_limited_across_accounts():
    for n in range(5):
        login(f"nobody{n}@example.com", "wrong")

    assert login("bob@example.com", PASSWORD).status_code == 429
    assert login("bob@example.com", PASSWORD, address="198.51.100.7").status_code == 302


def test_a_locked_account_can_log_in_once_the_window_has_passed(settings, rate_limit_clock):
    for _ in range(3):
        login("ada@example.com", "wrong")
    rate_limit_clock.advance(settings.AUTH_FAILURE_WINDOW - 1)
    last_second = login("ada@example.com", PASSWORD)
    rate_limit_clock.advance(1)

    assert (last_second.status_code, last_second["Retry-After"]) == (429, "1")
    assert login("ada@example.com", PASSWORD).status_code == 302


def test_a_successful_login_is_not_counted():
    for _ in range(5):
        assert login("ada@example.com", PASSWORD).status_code == 302
