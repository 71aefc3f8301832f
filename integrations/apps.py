from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from opbox.probes import register_readiness_check

        from . import checks  # registers the encryption-key system checks

        register_readiness_check("encryptionKeys", checks.missing_key_problem)

        from django.db.models.signals import post_migrate

        from .tasks import keep_recheck_scheduled_after_migrate, keep_recheck_scheduled_on_worker

        # The periodic re-check runs on the workers as a self-scheduling chain: started by their first task, and
        # after a deploy's migrate.
        keep_recheck_scheduled_on_worker.connect()
        post_migrate.connect(keep_recheck_scheduled_after_migrate, sender=self, dispatch_uid="integrations.recheck_after_migrate")
