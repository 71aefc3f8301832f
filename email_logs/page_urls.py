from django.urls import path

from . import pages

app_name = "emails"

urlpatterns = [
    path("settings/integrations/<str:integration_id>/test-email/", pages.SendTestEmailPage.as_view(), name="test-email"),
]
