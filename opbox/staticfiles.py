"""Static files in production: whitenoise's compressed, hashed files, and what happens when `collectstatic`
did not run. A page must never answer 500 for that: links fall back to the unhashed names (unstyled at
worst), while the system check `opbox.E001` and /readyz name the missing step.
"""

import logging

from django.contrib.staticfiles.storage import ManifestFilesMixin, staticfiles_storage
from whitenoise.storage import CompressedManifestStaticFilesStorage

logger = logging.getLogger(__name__)



class ForgivingManifestStaticFilesStorage(CompressedManifestStaticFilesStorage):
    """Whitenoise's manifest storage, except that a name missing from the manifest links to its unhashed
    URL instead of raising, which would turn every page into a 500. With no manifest at all (collectstatic
    never ran) the process says so once in its log."""

    _said_missing = False

    def stored_name(self, name):
        try:
            return super().stored_name(name)
        except ValueError:
            if not self.hashed_files and not ForgivingManifestStaticFilesStorage._said_missing:
                ForgivingManifestStaticFilesStorage._said_missing = True
                logger.error("%s Pages link their static files unhashed until then.", manifest_problem())
            return name


def manifest_problem() -> str | None:
    """Why the hashed static files cannot be served (no manifest: collectstatic never ran), or None.

    Only a manifest storage (production: DEBUG off) needs one.
    """
    if not isinstance(staticfiles_storage, ManifestFilesMixin):
        return None
    if staticfiles_storage.manifest_storage.exists(staticfiles_storage.manifest_name):
        return None
    return (
        f"No collected static files manifest ({staticfiles_storage.manifest_name} in STATIC_ROOT): "
        "run `python manage.py collectstatic --noinput` at build time."
    )
