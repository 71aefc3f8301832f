import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from workspaces.models import Role, Workspace
from workspaces.services import add_member, create_token, create_workspace

DEMO_SLUG = "demo"
DEMO_EMAIL = "demo@opbox.local"


class Command(BaseCommand):
    help = "Create the demo workspace, its owner (also a staff superuser) and an API token, once."

    def add_arguments(self, parser):
        parser.add_argument("--base-url", default="http://127.0.0.1:8000")

    @transaction.atomic
    def handle(self, base_url, **options):
        if Workspace.objects.filter(slug=DEMO_SLUG).exists():
            self.stdout.write(
                f"The demo workspace exists. Log in at {base_url}/login/ as {DEMO_EMAIL}.\n"
                f"  New API token:   python manage.py createtoken {DEMO_SLUG} {DEMO_EMAIL}\n"
                f"  Reset password:  python manage.py addmember {DEMO_SLUG} {DEMO_EMAIL} --role OWNER --password NEW"
            )
            return
        password = secrets.token_urlsafe(12)
        workspace = create_workspace(DEMO_SLUG, "Demo Workspace")
        add_member(workspace, DEMO_EMAIL, Role.OWNER, password=password)
        get_user_model().objects.filter(email=DEMO_EMAIL).update(is_staff=True, is_superuser=True)
        token = create_token(workspace, DEMO_EMAIL, name="demo")
        self.stdout.write(
            "\n".join(
                [
                    "",
                    "Demo workspace ready (shown once: note the password and token).",
                    f"  Log in:    {base_url}/login/",
                    f"  Email:     {DEMO_EMAIL}",
                    f"  Password:  {password}",
                    f"  API token: {token}",
                    f"  Try:       curl -H 'Authorization: Bearer {token}' {base_url}/api/integrations",
                    f"  Admin:     {base_url}/admin/ (same login)",
                    "",
                ]
            )
        )
