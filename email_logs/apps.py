from django.apps import AppConfig


class EmailLogsConfig(AppConfig):
    name = "email_logs"
    default_auto_field = "django.db.models.BigAutoField"
