from django.core.management.base import BaseCommand

from documents.retention import purge_expired_documents
from workspaces.management.commands._base import workspace_or_error


class Command(BaseCommand):
    help = (
        "Delete Document Log rows older than their workspace's retention period, with their stored files, now "
        "(the retention task does the same every hour)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--workspace", metavar="SLUG", help="Only this workspace.")
        parser.add_argument("--dry-run", action="store_true", help="Count what would be deleted; delete nothing.")

    def handle(self, workspace, dry_run, **options):
        chosen = workspace_or_error(workspace) if workspace else None
        reports = purge_expired_documents(chosen, dry_run=dry_run)
        if not reports:
            self.stdout.write("No workspace has a retention period: nothing to purge.")
        verb = "would remove" if dry_run else "removed"
        for report in reports:
            self.stdout.write(f"{report.workspace} (kept {report.days} days): {verb} {report.rows:,} documents, {report.files:,} files.")
