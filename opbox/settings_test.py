"""Settings for the test suite: the real settings with fixed, non-secret test keys.

DATABASE_URL passes through, so the same suite runs on SQLite and on PostgreSQL.
"""

import os
import tempfile

os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production")
# Two throwaway keys (the first encrypts). Tests that rotate keys override this setting.
os.environ.setdefault(
    "OPBOX_ENCRYPTION_KEYS",
    "dGVzdC1rZXktb25lLTMyLWJ5dGVzLWxvbmctLS0tLS0=,dGVzdC1rZXktdHdvLTMyLWJ5dGVzLWxvbmctLS0tLS0=",
)
# Sends run inline on both databases; the worker-backend tests choose their backend themselves.
os.environ.setdefault("TASKS_BACKEND", "immediate")
os.environ.setdefault("EMAIL_PROVIDER_A_API_URL", "https://provider-a.test")
os.environ.setdefault("EMAIL_PROVIDER_B_API_URL", "https://provider-b.test")
os.environ.setdefault("SLACK_API_URL", "https://slack.test/api")
os.environ.setdefault("HUBSPOT_API_URL", "https://hubspot.test")
os.environ.setdefault("GOOGLE_DRIVE_API_URL", "https://drive.test")
os.environ.setdefault("GOOGLE_OAUTH_TOKEN_URL", "https://oauth.test/token")
os.environ.setdefault("GOOGLE_OAUTH_CLIENT_ID", "test-client-id")
os.environ.setdefault("GOOGLE_OAUTH_CLIENT_SECRET", "test-client-secret-CANARY")
os.environ.setdefault("OPBOX_BASE_URL", "https://opbox.test")
# Unpaced: a test about pacing sets its rate; the others should not wait half a second between sends.
os.environ.setdefault("EMAIL_PROVIDER_A_REQUESTS_PER_SECOND", "0")
# Rendered documents go to a throwaway folder, never into the checkout's media/.
os.environ.setdefault("DOCUMENT_STORAGE_ROOT", tempfile.mkdtemp(prefix="opbox-test-documents-"))

from .settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast, tests only
# Templates render {% static %} without a collectstatic run (the manifest storage needs one).
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405
