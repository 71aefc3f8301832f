"""A strict Content-Security-Policy on every page (SPEC §8's defence in depth): the pages show text others
control (subjects, addresses, providers' errors); escaping keeps it inert today, and the policy keeps one
slip from running a script. The pages, Django admin and the API docs carry no inline script or style."""

import re
from pathlib import Path

import pytest
from csp.constants import NONCE, SELF
from csp.utils import build_policy
from django.conf import settings
from django.http import HttpResponse
from django.templatetags.static import static
from django.test import Client, RequestFactory

from email_logs.tests.factories import add_rows
from opbox.middleware import ContentSecurityPolicyMiddleware
from tables.models import Table
from workspaces.models import Role, User

pytestmark = pytest.mark.django_db

REQUIRED = {
    "default-src": "'self'",
    "frame-ancestors": "'none'",
    "form-action": "'self'",
    "base-uri": "'none'",
    "object-src": "'none'",
}


def policy_of(response) -> dict[str, list[str]]:
    header = response.headers.get("Content-Security-Policy", "")
    return {name: values for name, *values in (part.split() for part in header.split(";") if part.strip())}


@pytest.fixture
def pages(pages_as, make_integration):
    integration = make_integration("EMAIL_PROVIDER")
    table = Table.objects.get(integration=integration)
    (row,) = add_rows(table, 1)
    staff = Client()
    staff.force_login(User.objects.create_superuser(email="staff@opbox.example", password="pw"))
    owner = pages_as(Role.OWNER)
    return [
        (Client(), "/login/"),
        (owner, "/tables/"),
        (owner, f"/tables/{table.pk}/"),
        (owner, f"/tables/{table.pk}/rows/{row.pk}/"),
        (owner, "/settings/integrations/"),
        (owner, f"/settings/integrations/{integration.pk}/"),
        (owner, "/settings/integrations/new/?type=EMAIL_PROVIDER"),
        (owner, "/settings/workspace/"),
        (owner, "/settings/suppressions/"),
        (owner, "/tables/nope/"),  # a 404 page
        (staff, "/admin/"),
        (staff, "/admin/integrations/integration/"),
        (staff, f"/admin/integrations/integration/{integration.pk}/change/"),
        (Client(), "/api/docs/"),
    ]


def test_every_page_sends_the_strict_policy(pages):
    for client, path in pages:
        response = client.get(path)
        policy = policy_of(response)

        assert response["Content-Type"].startswith("text/html"), path
        for directive, value in REQUIRED.items():
            assert policy.get(directive) == [value], (path, directive, policy)
        scripts = policy.get("script-src", policy["default-src"])
        assert "'unsafe-inline'" not in scripts and "'unsafe-eval'" not in scripts, path
        assert "'unsafe-inline'" not in policy.get("style-src", []), path


def test_the_api_docs_load_their_setup_script_as_a_static_file():
    html = Client().get("/api/docs/").content.decode()

    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", html, re.DOTALL)
    assert scripts and all('src="' in attributes and not body.strip() for attributes, body in scripts), scripts
    assert "<style" not in html and " style=" not in html
    setup = [src for attributes, _ in scripts for src in re.findall(r'src="([^"]+)"', attributes) if "swagger-ui" not in src]
    assert setup == [static("js/api-docs.js")], setup
    assert re.search(r'data-csrf-token="[^"]+"', html) and 'data-schema-url="/api/schema/"' in html


def test_our_templates_hold_no_inline_script_style_or_handler():
    templates = Path(settings.BASE_DIR) / "templates"
    for template in templates.rglob("*.html"):
        text = template.read_text()
        for tag in re.findall(r"<script\b[^>]*>", text):
            assert "src=" in tag, (template, tag)  # (no inline script: the policy would block it)
        assert "<style" not in text and not re.search(r"\sstyle=", text), template
        assert not re.search(r"\son[a-z]+=", text), template  # onclick=... is inline script too


def test_every_response_carries_the_policy_django_csp_builds_from_the_settings(admin_api):
    expected = build_policy()

    for response in (admin_api.get("/api/integrations"), admin_api.get("/api/nope"), Client().get("/login/")):
        assert response["Content-Security-Policy"] == expected
        assert "Content-Security-Policy-Report-Only" not in response


def test_a_changed_setting_changes_the_header_at_once(settings, admin_api):
    admin_api.get("/api/integrations")  # the policy of the settings before, built
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"default-src": [SELF], "img-src": [SELF, "https://img.example"]}}
    settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = {"DIRECTIVES": {"default-src": ["'none'"]}}

    response = admin_api.get("/api/integrations")

    assert policy_of(response) == {"default-src": ["'self'"], "img-src": ["'self'", "https://img.example"]}
    assert response["Content-Security-Policy-Report-Only"] == "default-src 'none'"


def _through_the_middleware(view):
    request = RequestFactory().get("/somewhere/")
    return ContentSecurityPolicyMiddleware(view)(request)


def test_a_response_that_changes_its_own_policy_keeps_the_change():
    def view(request):
        response = HttpResponse("ok")
        response._csp_update = {"img-src": ["https://img.example"]}  # what django-csp's @csp_update sets
        return response

    assert "https://img.example" in policy_of(_through_the_middleware(view))["img-src"]


def test_a_nonce_drawn_by_the_view_is_in_the_header(settings):
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"default-src": [SELF], "script-src": [SELF, NONCE]}}
    drawn = []

    def view(request):
        drawn.append(str(request.csp_nonce))
        return HttpResponse("ok")

    assert policy_of(_through_the_middleware(view))["script-src"] == ["'self'", f"'nonce-{drawn[0]}'"]
