"""Shared plumbing of the tenancy commands: turning lookups and validation errors into CommandError."""

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from workspaces.models import Workspace


def workspace_or_error(slug: str) -> Workspace:
    try:
        return Workspace.objects.get(slug=slug)
    except Workspace.DoesNotExist:
        raise CommandError(f"No workspace with slug {slug!r}.") from None


def command_error(error: ValidationError) -> CommandError:
    return CommandError(" ".join(error.messages))
