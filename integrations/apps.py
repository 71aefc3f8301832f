from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from opbox.probes import register_readiness_check

        from . import checks  # registers the encryption-key system checks

        register_readiness_check("encryptionKeys", checks.missing_key_problem)
