from django.core.management.base import BaseCommand, CommandError

from integrations.crypto import EncryptionError, KeyConfigurationError, key_ring
from integrations.services import MALFORMED, credential_key_usage, reencrypt_all_credentials


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored credential under the first key of OPBOX_ENCRYPTION_KEYS. "
        "Put the new key first, keep the old ones after it, run this, then drop the old keys. "
        "--dry-run prints, per key id, what would be re-encrypted, and writes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=500, help="Rows read per batch (default 500).")
        parser.add_argument("--dry-run", action="store_true", help="Count per key id; change nothing.")

    def handle(self, **options):
        if options["dry_run"]:
            return self.dry_run()
        try:
            counts = reencrypt_all_credentials(batch_size=options["batch_size"])
        except EncryptionError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            f"Re-encrypted {counts['reencrypted']} integration(s) under key {key_ring().primary_key_id}; "
            f"{counts['already_current']} already used it."
        )

    def dry_run(self):
        try:
            ring = key_ring()
        except KeyConfigurationError as error:
            raise CommandError(str(error)) from None
        usage = credential_key_usage()  # reads key-id prefixes only: no decrypt, no write
        to_reencrypt = 0
        self.stdout.write(f"Dry run: nothing is written. The first key, {ring.primary_key_id}, encrypts.")
        for key_id, count in sorted(usage.items(), key=lambda item: (item[0] != ring.primary_key_id, item[0])):
            if key_id == ring.primary_key_id:
                self.stdout.write(f"  key {key_id}: {count} integration(s), already under the first key")
            elif key_id == MALFORMED:
                self.stdout.write(f"  {count} integration(s) in no known sealed format: cannot be re-encrypted")
            elif key_id in ring.key_ids:
                to_reencrypt += count
                self.stdout.write(f"  key {key_id}: {count} integration(s) would be re-encrypted")
            else:
                self.stdout.write(
                    f"  key {key_id}: {count} integration(s) NOT in OPBOX_ENCRYPTION_KEYS: add it back to re-encrypt them"
                )
        self.stdout.write(f"{to_reencrypt} integration(s) would be re-encrypted under {ring.primary_key_id}.")
