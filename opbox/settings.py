"""Django settings for Opbox Integrations.

Every setting that varies between machines is read here, once, from the environment (and a `.env`
file beside manage.py, which real environment variables override). Code reads `django.conf.settings`.
"""

from pathlib import Path

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# overwrite=False: a variable already in the environment wins over the same one in .env.
# OPBOX_ENV_FILE points elsewhere (or at nothing) for deployments that keep no .env beside the code.
environ.Env.read_env(env.str("OPBOX_ENV_FILE", default=str(BASE_DIR / ".env")), overwrite=False)

DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
OPBOX_ENCRYPTION_KEYS = env.list("OPBOX_ENCRYPTION_KEYS", default=[])
if not DEBUG:
    missing = [name for name, value in (("SECRET_KEY", SECRET_KEY), ("OPBOX_ENCRYPTION_KEYS", OPBOX_ENCRYPTION_KEYS)) if not value]
    if missing:
        raise ImproperlyConfigured(
            f"{' and '.join(missing)} must be set when DEBUG is off (see README, Configuration)."
        )
if not SECRET_KEY:
    # Only reachable with DEBUG on: a throwaway key so a first local run works.
    SECRET_KEY = "insecure-development-key-do-not-use-in-production"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.humanize",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_tasks",
    "django_tasks_db",
    "csp",  # its system checks refuse the settings of older django-csp versions
    "opbox",  # its system checks (opbox/checks.py)
    "workspaces",
    "integrations",
    "tables",
    "documents",
    "email_logs",
    "deliveries",
]

MIDDLEWARE = [
    "opbox.middleware.RequestIdMiddleware",
    "opbox.middleware.ContentSecurityPolicyMiddleware",  # django-csp's; early: every response, refusals included, carries the policy
    "opbox.middleware.RejectNulMiddleware",
    "opbox.middleware.RequestBodyLimitMiddleware",
    "opbox.middleware.LoginThrottleMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "opbox.urls"
WSGI_APPLICATION = "opbox.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "workspaces.context_processors.current_workspace",
            ],
        },
    },
]

# SQLite is the embedded default for a first run; production sets DATABASE_URL=postgres://...
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
# Persistent connections: a gunicorn sync worker reuses one connection instead of connecting per request.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
# No ping before each request's first query: a connection the database dropped fails that one request,
# and Django then closes it (it is checked after an error), so the next request reconnects.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("CONN_HEALTH_CHECKS", default=False)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Prepared statements: with server-side binding (parameters sent apart from the SQL) psycopg prepares a
    # query once it has run `prepare_threshold` times on a connection, so the token check and the hot reads
    # are no longer planned afresh on every request. Django turns both off by default for the sake of
    # transaction-pooling PgBouncers, which cannot keep them: DATABASE_PREPARED_STATEMENTS=false there.
    if env.bool("DATABASE_PREPARED_STATEMENTS", default=True):
        DATABASES["default"].setdefault("OPTIONS", {}).update(server_side_binding=True, prepare_threshold=5)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Wait for a concurrent writer instead of failing at once with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("timeout", 20)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "workspaces.User"
AUTHENTICATION_BACKENDS = ["workspaces.backends.RateLimitedEmailBackend"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/tables/"
LOGOUT_REDIRECT_URL = "/login/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(BASE_DIR / "media")))
MEDIA_URL = "media/"  # never served: documents are downloaded through the app, which checks the workspace
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Rendered documents' bytes. Any Django storage backend (S3, GCS...) by settings alone:
    # DOCUMENT_STORAGE_BACKEND and DOCUMENT_STORAGE_OPTIONS (a JSON object of the backend's options).
    "documents": {
        "BACKEND": env.str("DOCUMENT_STORAGE_BACKEND", default="django.core.files.storage.FileSystemStorage"),
        "OPTIONS": env.json("DOCUMENT_STORAGE_OPTIONS", default={})
        or {"location": env.str("DOCUMENT_STORAGE_ROOT", default=str(MEDIA_ROOT / "documents")), "base_url": None},
    },
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            # Whitenoise's manifest storage; links fall back to unhashed names if collectstatic never ran.
            else "opbox.staticfiles.ForgivingManifestStaticFilesStorage"
        )
    },
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Bearer first: its WWW-Authenticate header turns "no credentials" into 401, not 403.
        "workspaces.authentication.BearerTokenAuthentication",
        "workspaces.authentication.WorkspaceSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["workspaces.permissions.IsWorkspaceMember"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["opbox.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "opbox.api.exception_handler",
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Opbox Integrations API",
    "DESCRIPTION": "Manage external service connections, email templates and Email Log tables.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI from the sidecar package's static files: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # The API's shape is public; every operation in it still needs a token.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "opbox.schema.add_error_responses"],
}

# Email providers (SPEC §4). Local runs and tests point these at a fake.
EMAIL_PROVIDER_A_API_URL = env.str("EMAIL_PROVIDER_A_API_URL", default="https://api.resend.com").rstrip("/")
EMAIL_PROVIDER_B_API_URL = env.str("EMAIL_PROVIDER_B_API_URL", default="https://api.sendgrid.com").rstrip("/")
EMAIL_PROVIDER_TIMEOUT = env.float("EMAIL_PROVIDER_TIMEOUT", default=10.0)
EMAIL_SEND_MAX_ATTEMPTS = env.int("EMAIL_SEND_MAX_ATTEMPTS", default=4)
EMAIL_SEND_MAX_BACKOFF = env.float("EMAIL_SEND_MAX_BACKOFF", default=10.0)
# Provider calls per second of each integration, shared by every worker (SPEC §10); 0 or unset: unpaced.
# Resend documents 2 per second by default; SendGrid publishes no per-second limit for mail/send.
EMAIL_PROVIDER_A_REQUESTS_PER_SECOND = env.float("EMAIL_PROVIDER_A_REQUESTS_PER_SECOND", default=2.0) or None
EMAIL_PROVIDER_B_REQUESTS_PER_SECOND = env.float("EMAIL_PROVIDER_B_REQUESTS_PER_SECOND", default=0.0) or None
EMAIL_TEMPLATE_CACHE_SECONDS = env.int("EMAIL_TEMPLATE_CACHE_SECONDS", default=300)
EMAIL_MAX_ATTACHMENT_BYTES = env.int("EMAIL_MAX_ATTACHMENT_BYTES", default=10 * 1024 * 1024)
# Retention (SPEC §12): the purge task runs every EMAIL_LOG_PURGE_INTERVAL seconds, deleting expired rows in
# batches of EMAIL_LOG_PURGE_BATCH_SIZE for at most EMAIL_LOG_PURGE_RUN_SECONDS a run (it resumes at once if more is left).
EMAIL_LOG_PURGE_INTERVAL = env.int("EMAIL_LOG_PURGE_INTERVAL", default=3600)
EMAIL_LOG_PURGE_BATCH_SIZE = env.int("EMAIL_LOG_PURGE_BATCH_SIZE", default=5000)
EMAIL_LOG_PURGE_RUN_SECONDS = env.int("EMAIL_LOG_PURGE_RUN_SECONDS", default=60)
# After each batch the purge rests this many times the batch's own duration, so sending and reading keep their
# latency on a busy database (0: flat out, about 1.5x the rows/s).
EMAIL_LOG_PURGE_PAUSE_RATIO = env.float("EMAIL_LOG_PURGE_PAUSE_RATIO", default=0.5)

# The services the other integration types speak (SPEC §13). Base URLs that are not in an integration's config
# are settings, so tests and scripts/run point them at local fakes.
SLACK_API_URL = env.str("SLACK_API_URL", default="https://slack.com/api").rstrip("/")
HUBSPOT_API_URL = env.str("HUBSPOT_API_URL", default="https://api.hubapi.com").rstrip("/")
GOOGLE_DRIVE_API_URL = env.str("GOOGLE_DRIVE_API_URL", default="https://www.googleapis.com").rstrip("/")
GOOGLE_OAUTH_TOKEN_URL = env.str("GOOGLE_OAUTH_TOKEN_URL", default="https://oauth2.googleapis.com/token")
GOOGLE_OAUTH_CLIENT_ID = env.str("GOOGLE_OAUTH_CLIENT_ID", default="")
GOOGLE_OAUTH_CLIENT_SECRET = env.str("GOOGLE_OAUTH_CLIENT_SECRET", default="")
# The site's absolute URL, for links in messages that workers send (no request to build it from).
OPBOX_BASE_URL = env.str("OPBOX_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")
# Seconds to wait for any of those services (checks now; deliveries, SPEC §15, later).
# Documents (SPEC §14): a rendered file larger than this is refused while it is read, and not stored.
DOCUMENT_MAX_BYTES = env.int("DOCUMENT_MAX_BYTES", default=25 * 1024 * 1024)

INTEGRATION_REQUEST_TIMEOUT = env.float("INTEGRATION_REQUEST_TIMEOUT", default=15.0)
# URLs users type (a webhook, a document engine's or Airtable's base URL) never reach loopback, private,
# link-local or reserved addresses, at write and at connect time; true lifts both (local fakes only).
OUTBOUND_ALLOW_PRIVATE_NETWORKS = env.bool("OUTBOUND_ALLOW_PRIVATE_NETWORKS", default=False)
# Every enabled integration is checked again this often by a self-scheduling task (0: never).
INTEGRATION_CHECK_INTERVAL_HOURS = env.float("INTEGRATION_CHECK_INTERVAL_HOURS", default=24.0)
# Calls per second of one integration to its service, shared by every worker (SPEC §15); 0: unpaced.
DELIVERY_SLACK_REQUESTS_PER_SECOND = env.float("DELIVERY_SLACK_REQUESTS_PER_SECOND", default=1.0) or None
DELIVERY_CRM_PLATFORM_REQUESTS_PER_SECOND = env.float("DELIVERY_CRM_PLATFORM_REQUESTS_PER_SECOND", default=10.0) or None
DELIVERY_EXTERNAL_DATABASE_REQUESTS_PER_SECOND = env.float("DELIVERY_EXTERNAL_DATABASE_REQUESTS_PER_SECOND", default=5.0) or None
DELIVERY_CLOUD_STORAGE_REQUESTS_PER_SECOND = env.float("DELIVERY_CLOUD_STORAGE_REQUESTS_PER_SECOND", default=10.0) or None
DELIVERY_WEBHOOK_REQUESTS_PER_SECOND = env.float("DELIVERY_WEBHOOK_REQUESTS_PER_SECOND", default=0.0) or None
DELIVERY_WEBHOOK_PLATFORM_REQUESTS_PER_SECOND = env.float("DELIVERY_WEBHOOK_PLATFORM_REQUESTS_PER_SECOND", default=0.0) or None
# Seconds between a delivery's attempts (SPEC §15, the Standard Webhooks schedule): the first is at once, then
# 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h; after the last, the delivery is failed.
DELIVERY_RETRY_SCHEDULE = env.list("DELIVERY_RETRY_SCHEDULE", cast=float, default=[0, 5, 300, 1800, 7200, 18000, 36000, 36000])
# How long an attempt may hold its deliveries before the sweep takes them to have been left by a dead worker,
# and how often the sweep looks for them (and for events or retries whose task was lost).
DELIVERY_LEASE_SECONDS = env.float("DELIVERY_LEASE_SECONDS", default=120.0)
DELIVERY_SWEEP_SECONDS = env.float("DELIVERY_SWEEP_SECONDS", default=60.0)

# Outbound email runs as a Django task. On PostgreSQL by default on `manage.py db_worker` processes
# (TASKS_BACKEND=database: django-tasks-db, no extra service); inline on SQLite first runs
# (TASKS_BACKEND=immediate); or on `manage.py rqworker default` processes with TASKS_BACKEND=rq
# (django-tasks-rq on Redis at REDIS_URL, for larger teams).
_ON_POSTGRESQL = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
TASKS_BACKEND = env.str("TASKS_BACKEND", default="database" if _ON_POSTGRESQL else "immediate")
TASKS = {
    "default": {
        "BACKEND": {
            "immediate": "django_tasks.backends.immediate.ImmediateBackend",
            "database": "django_tasks_db.DatabaseBackend",
            "rq": "django_tasks_rq.RQBackend",
            "dummy": "django_tasks.backends.dummy.DummyBackend",
        }[TASKS_BACKEND],
    }
}
if TASKS_BACKEND == "rq":
    INSTALLED_APPS.append("django_rq")  # for `manage.py rqworker`; not installed when RQ is unused
RQ_QUEUES = {"default": {"URL": env.str("REDIS_URL", default="redis://127.0.0.1:6379/0"), "DEFAULT_TIMEOUT": 300}}

CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

# Abuse limits: failed logins and token checks per client address and per account, per window (seconds).
AUTH_FAILURES_PER_ADDRESS = env.int("AUTH_FAILURES_PER_ADDRESS", default=50)
AUTH_FAILURES_PER_ACCOUNT = env.int("AUTH_FAILURES_PER_ACCOUNT", default=10)
AUTH_FAILURE_WINDOW = env.int("AUTH_FAILURE_WINDOW", default=300)
# Request bodies above this are refused with 413 (attachments up to EMAIL_MAX_ATTACHMENT_BYTES fit, base64).
MAX_REQUEST_BODY_BYTES = env.int("MAX_REQUEST_BODY_BYTES", default=15 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_REQUEST_BODY_BYTES

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOG_FORMAT = env.str("LOG_FORMAT", default="plain")  # "json" in production: one JSON object per line
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "opbox.logging.RequestIdFilter"},
        "mask_addresses": {"()": "opbox.logging.AddressMaskingFilter"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "opbox.logging.JsonFormatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["request_id"]},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    # Its lines name the request's path, which may hold an address (DELETE /api/suppressions/<address>).
    # (Not django.server: configuring it here would drop the handler Django gives runserver's request lines.)
    "loggers": {"django.request": {"filters": ["mask_addresses"]}},
}

# Content-Security-Policy (django-csp) on every response: the pages show text others control (subjects,
# addresses, providers' errors), so a slip in escaping must not run a script. No page, the admin's and the
# API docs' included, has inline script or style; images may be data: URIs (the favicon, Swagger UI's icons).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "img-src": [SELF, "data:"],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
        "base-uri": [NONE],
        "object-src": [NONE],
    }
}

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
# Behind TLS in production set these to true (README, Running in production); they default off so
# a plain-HTTP local run or black-box check on 127.0.0.1 works with DEBUG off.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=False)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=False)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
if env.bool("TRUST_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
