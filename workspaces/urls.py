from django.urls import re_path

from . import views

urlpatterns = [
    re_path(r"^api/workspace/?$", views.WorkspaceView.as_view(), name="workspace"),
]
