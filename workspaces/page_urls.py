from django.urls import path

from . import pages

urlpatterns = [
    path("login/", pages.LoginPage.as_view(), name="login"),
    path("logout/", pages.LogoutPage.as_view(), name="logout"),
    path("workspace/switch/", pages.SwitchWorkspacePage.as_view(), name="switch-workspace"),
    path("settings/workspace/", pages.WorkspaceSettingsPage.as_view(), name="workspace-settings"),
]
