from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand

from workspaces.models import Role
from workspaces.services import add_member

from ._base import command_error, workspace_or_error


class Command(BaseCommand):
    help = "Add a user (created if needed) to a workspace: addmember SLUG EMAIL --role OWNER|ADMIN|MEMBER [--password PW]"

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("email")
        parser.add_argument("--role", required=True, choices=Role.values)
        parser.add_argument("--password", default=None)

    def handle(self, slug, email, role, password, **options):
        workspace = workspace_or_error(slug)
        try:
            membership = add_member(workspace, email, role, password)
        except ValidationError as error:
            raise command_error(error) from None
        self.stdout.write(f"{membership.user.email} is {membership.role} of {workspace.slug}.")
