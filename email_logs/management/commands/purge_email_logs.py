from django.core.management.base import BaseCommand

from email_logs.lifecycle.entry_points import keep_purge_scheduled, purge_now
from workspaces.management.commands._base import workspace_or_error


class Command(BaseCommand):
    help = (
        "Delete Email Log rows older than their workspace's retention period, with their events and outbox "
        "records, now (the purge task does the same every hour). Emails still being sent are kept."
    )

    def add_arguments(self, parser):
        parser.add_argument("--workspace", metavar="SLUG", help="Only this workspace.")
        parser.add_argument("--dry-run", action="store_true", help="Count what would be deleted; delete nothing.")

    def handle(self, workspace, dry_run, **options):
        chosen = workspace_or_error(workspace) if workspace else None
        if chosen is not None and chosen.email_log_retention_days is None:
            self.stdout.write(f"{chosen.slug} keeps its Email Log rows forever: nothing to purge.")
            return
        reports = purge_now(chosen, dry_run=dry_run)
        if not reports:
            self.stdout.write("No workspace has a retention period: nothing to purge.")
        verb = "would remove" if dry_run else "removed"
        for report in reports:
            self.stdout.write(
                f"{report.workspace} (kept {report.days} days, rows sent before {report.cutoff:%Y-%m-%d %H:%M} UTC): "
                f"{verb} {report.rows:,} rows, {report.events:,} events, {report.outbox:,} outbox records."
            )
        if not dry_run:
            keep_purge_scheduled()
