from datetime import timedelta

from django.core.management.base import BaseCommand

from email_logs.sending.recovery import resolve_inflight_emails


class Command(BaseCommand):
    help = (
        "Settle emails left 'queued' by a crash: resend those that cannot be duplicated, mark the rest failed. "
        "Safe to run on a schedule (e.g. every 10 minutes) beside the workers."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than", type=int, default=15, metavar="MINUTES", help="Only rows queued at least this long ago (default 15)."
        )

    def handle(self, older_than, **options):
        counts = resolve_inflight_emails(timedelta(minutes=older_than))
        self.stdout.write(f"Resent {counts['resent']} email(s); marked {counts['marked_failed']} failed.")
