from django.core.management.base import BaseCommand, CommandError

from integrations.crypto import EncryptionError, key_ring
from integrations.services import reencrypt_all_credentials


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored credential under the first key of OPBOX_ENCRYPTION_KEYS. "
        "Put the new key first, keep the old ones after it, run this, then drop the old keys."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=500, help="Rows read per batch (default 500).")

    def handle(self, **options):
        try:
            counts = reencrypt_all_credentials(batch_size=options["batch_size"])
        except EncryptionError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            f"Re-encrypted {counts['reencrypted']} integration(s) under key {key_ring().primary_key_id}; "
            f"{counts['already_current']} already used it."
        )
