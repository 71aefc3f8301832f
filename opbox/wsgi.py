"""WSGI entry point: `gunicorn opbox.wsgi` (see gunicorn.conf.py)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opbox.settings")

application = get_wsgi_application()
