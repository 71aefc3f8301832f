from django.apps import AppConfig


class OpboxConfig(AppConfig):
    """The project's shared pieces; as an app only to register its system checks."""

    name = "opbox"

    def ready(self):
        from . import checks  # noqa: F401  (registers the static manifest check)
