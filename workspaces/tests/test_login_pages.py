"""Signing in and out in a browser, the workspace switcher, and what every page says about who and where."""

import pytest
from django.test import Client

from workspaces.models import Role
from workspaces.services import add_member, create_workspace

pytestmark = pytest.mark.django_db

PASSWORD = "a long enough password 42"


@pytest.fixture
def ada(workspace):
    return add_member(workspace, "ada@acme.example", Role.ADMIN, password=PASSWORD).user


def login(client, email, password, next_url=""):
    return client.post(f"/login/{'?next=' + next_url if next_url else ''}", {"username": email, "password": password})


def test_login_page_asks_for_email_and_password(client):
    html = client.get("/login/").content.decode()

    assert 'type="email" name="username"' in html and 'type="password" name="password"' in html
    assert 'name="csrfmiddlewaretoken"' in html


def test_right_password_goes_to_tables_and_the_header_says_who_and_where(client, ada, workspace):
    response = login(client, "ADA@acme.example", PASSWORD)
    html = client.get("/tables/").content.decode()

    assert response.status_code == 302 and response["Location"] == "/tables/"
    assert "ada@acme.example" in html and workspace.name in html and "ADMIN" in html.upper()


def test_login_returns_to_the_page_asked_for_but_never_off_site(client, ada):
    assert login(client, ada.email, PASSWORD, "/settings/integrations/")["Location"] == "/settings/integrations/"
    client.logout()
    assert login(client, ada.email, PASSWORD, "https://evil.example/")["Location"] == "/tables/"


def test_wrong_password_shows_the_form_again_with_an_error(client, ada):
    response = login(client, ada.email, "wrong password")

    assert response.status_code == 200 and "Please enter a correct email address and password" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_repeated_failures_are_refused_with_429_and_a_plain_message(client, ada, settings):
    settings.AUTH_FAILURES_PER_ACCOUNT = 2
    for _ in range(2):
        login(client, ada.email, "wrong password")

    response = login(client, ada.email, PASSWORD)

    assert response.status_code == 429 and int(response["Retry-After"]) >= 1
    assert "Too many failed logins" in response.content.decode()


def test_logout_is_a_post_and_ends_the_session(client, ada):
    login(client, ada.email, PASSWORD)

    assert client.get("/logout/").status_code == 405
    assert client.post("/logout/")["Location"] == "/login/"
    assert client.get("/tables/").status_code == 302


def test_people_in_several_workspaces_switch_between_them(client, ada, workspace):
    other = create_workspace("initech", "Initech")
    add_member(other, ada.email, Role.MEMBER)
    login(client, ada.email, PASSWORD)

    first = client.get("/settings/integrations/").content.decode()
    switched = client.post("/workspace/switch/", {"workspace": other.pk, "next": "/settings/integrations/"})
    second = client.get("/settings/integrations/").content.decode()

    assert 'id="workspace-switcher"' in first and "Add an integration" in first  # ADMIN in Acme
    assert switched["Location"] == "/settings/integrations/"
    assert f'value="{other.pk}" selected' in second and "Add an integration" not in second  # MEMBER in Initech


def test_switching_to_a_workspace_you_are_not_in_is_refused(client, ada, workspace):
    stranger = create_workspace("umbrella", "Umbrella")
    login(client, ada.email, PASSWORD)
    client.get("/tables/")

    response = client.post("/workspace/switch/", {"workspace": stranger.pk})

    assert response.status_code == 403
    assert client.session["workspace_id"] == workspace.pk


def test_switch_ignores_an_off_site_next(client, ada, workspace):
    login(client, ada.email, PASSWORD)

    response = client.post("/workspace/switch/", {"workspace": workspace.pk, "next": "//evil.example/"})

    assert response["Location"] == "/tables/"


def test_someone_in_no_workspace_is_told_so(client, django_user_model):
    user = django_user_model.objects.create_user(email="lonely@example.com", password=PASSWORD)
    client.force_login(user)

    response = client.get("/tables/")

    assert response.status_code == 403 and "not in a workspace yet" in response.content.decode()


def test_home_goes_to_tables(client):
    assert Client().get("/")["Location"] == "/tables/"
