from django.urls import re_path

from . import views

urlpatterns = [
    re_path(r"^api/emails/?$", views.SendEmailView.as_view(), name="email-send"),
    re_path(r"^api/tables/integration/init/?$", views.InitEmailLogTablesView.as_view(), name="email-log-init"),
]
