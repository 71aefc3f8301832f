"""The public commands of SPEC §3: createworkspace, addmember, createtoken."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from workspaces.models import ApiToken, Membership, User, Workspace

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_createworkspace_addmember_createtoken_give_a_working_token():
    run("createworkspace", "acme", "--name", "Acme Legal")
    run("addmember", "acme", "Ada@Example.com", "--role", "ADMIN", "--password", "a long password 123")
    token = run("createtoken", "acme", "ada@example.com")

    assert token.count("\n") == 1 and token.strip().startswith("opbx_")  # the token and only it
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token.strip()}")
    assert client.get("/api/integrations").status_code == 200
    assert Workspace.objects.get().name == "Acme Legal"
    assert User.objects.get().email == "ada@example.com"
    assert client.login(email="ada@example.com", password="a long password 123")


def test_the_token_is_stored_only_as_a_digest():
    run("createworkspace", "acme")
    run("addmember", "acme", "ada@example.com", "--role", "MEMBER")
    token = run("createtoken", "acme", "ada@example.com").strip()

    stored = repr(list(ApiToken.objects.values()))
    assert token not in stored and token[len("opbx_") :] not in stored


def test_addmember_twice_changes_the_role():
    run("createworkspace", "acme")
    run("addmember", "acme", "ada@example.com", "--role", "MEMBER")
    run("addmember", "acme", "ada@example.com", "--role", "OWNER")

    assert Membership.objects.get().role == "OWNER"


@pytest.mark.parametrize(
    "args",
    [
        ("createworkspace", "not a slug"),
        ("addmember", "missing", "ada@example.com", "--role", "ADMIN"),
        ("addmember", "acme", "not-an-email", "--role", "ADMIN"),
        ("createtoken", "acme", "stranger@example.com"),
    ],
)
def test_bad_arguments_are_command_errors(args):
    run("createworkspace", "acme")

    with pytest.raises(CommandError):
        run(*args)


def test_a_duplicate_workspace_is_refused():
    run("createworkspace", "acme")

    with pytest.raises(CommandError):
        run("createworkspace", "acme")
