from django.core.management.base import BaseCommand

from integrations.rechecks import check_interval, recheck_due


class Command(BaseCommand):
    help = (
        "Check every enabled integration whose last check is older than INTEGRATION_CHECK_INTERVAL_HOURS, at its "
        "service's pace (what the workers' re-check task does by itself)."
    )

    def handle(self, **options):
        if check_interval() is None:
            self.stdout.write("INTEGRATION_CHECK_INTERVAL_HOURS is 0: re-checks are off.")
            return
        report = recheck_due()
        self.stdout.write(f"Checked {report.checked} integration(s): {report.failed} failed, {report.skipped} not their turn yet.")
