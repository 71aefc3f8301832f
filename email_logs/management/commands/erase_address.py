from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand

from email_logs.lifecycle.entry_points import erase_address
from workspaces.management.commands._base import command_error, workspace_or_error


class Command(BaseCommand):
    help = (
        "Erase one person's address from a workspace's Email Log (To, CC, BCC: replaced by [erased]; rows stay), "
        "delete their delivery events and keep their suppression as a keyed hash only: erase_address SLUG ADDRESS"
    )

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("address")

    def handle(self, slug, address, **options):
        workspace = workspace_or_error(slug)
        try:
            result = erase_address(workspace, address)
        except ValidationError as error:
            raise command_error(error) from None
        # The address is not repeated: this output may well end up in a shell history or a ticket.
        self.stdout.write(
            f"Erased the address from {result.rows:,} rows of {workspace.slug}; deleted {result.events:,} events; "
            f"{result.suppressions:,} suppression(s) now kept as a hash only. It stays suppressed."
        )
