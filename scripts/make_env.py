#!/usr/bin/env python3
"""Write a `.env` beside manage.py with fresh random keys, once: an existing file is never touched.

Standard library only (it runs before Django is importable). Real environment variables override it.
"""

import base64
import os
import secrets
import sys
from pathlib import Path

ENV_FILE = Path(__file__).resolve().parent.parent / ".env"

TEMPLATE = """\
# Local settings for Opbox Integrations, written by scripts/make_env.py on first run.
# Real environment variables override anything here. Never commit this file.

# Development mode: detailed error pages, static files served by runserver.
DEBUG=true
# Signs sessions and CSRF tokens.
SECRET_KEY={secret_key}
# Encrypts integration credentials (AES-256-GCM). Comma-separated; the first encrypts, all decrypt.
# Losing it makes stored credentials unreadable: back it up with the database.
OPBOX_ENCRYPTION_KEYS={encryption_key}
# Email providers: the local fake that scripts/run starts (scripts/fake_providers.py).
EMAIL_PROVIDER_A_API_URL=http://127.0.0.1:8025/a
EMAIL_PROVIDER_B_API_URL=http://127.0.0.1:8025/b
# DATABASE_URL unset: SQLite in db.sqlite3. For PostgreSQL: postgres://user@host:5432/dbname
"""


def main() -> int:
    if ENV_FILE.exists():
        print(f"{ENV_FILE.name} exists; keeping it.")
        return 0
    content = TEMPLATE.format(
        secret_key=secrets.token_urlsafe(50),
        encryption_key=base64.urlsafe_b64encode(os.urandom(32)).decode(),
    )
    descriptor = os.open(ENV_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as env_file:
        env_file.write(content)
    print(f"Wrote {ENV_FILE.name} with fresh SECRET_KEY and OPBOX_ENCRYPTION_KEYS (mode 0600).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
