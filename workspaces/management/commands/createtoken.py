from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand

from workspaces.services import create_token

from ._base import command_error, workspace_or_error


class Command(BaseCommand):
    help = "Issue an API token for a member and print it (only it) on stdout: createtoken SLUG EMAIL"

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("email")
        parser.add_argument("--name", default="", help="A label to recognise the token by later.")

    def handle(self, slug, email, name, **options):
        try:
            plaintext = create_token(workspace_or_error(slug), email, name)
        except ValidationError as error:
            raise command_error(error) from None
        # Scripts capture stdout: the token and nothing else.
        self.stdout.write(plaintext)
