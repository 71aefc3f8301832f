from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand

from workspaces.services import create_workspace

from ._base import command_error


class Command(BaseCommand):
    help = "Create a workspace: createworkspace SLUG [--name NAME]"

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--name", default="")

    def handle(self, slug, name, **options):
        try:
            workspace = create_workspace(slug, name)
        except ValidationError as error:
            raise command_error(error) from None
        self.stdout.write(f"Created workspace {workspace.slug} ({workspace.name}).")
