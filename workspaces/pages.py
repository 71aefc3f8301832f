"""Browser pages for signing in and choosing a workspace, and the base every workspace page builds on."""

from django import forms
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.mixins import AccessMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View

from .services import RETENTION_MAX_DAYS, RETENTION_MIN_DAYS, session_membership, set_email_log_retention, switch_workspace


class WorkspacePageMixin(AccessMixin):
    """A page of the session's current workspace: anonymous visitors go to the login page, people without
    a workspace get a page that says so, and `admin_only` pages answer 403 to MEMBERs.

    Sets `self.membership` (and `request.membership`, which the base template reads).
    """

    admin_only = False

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        self.membership = session_membership(request)
        if self.membership is None:
            return render(request, "workspaces/no_workspace.html", status=403)
        request.membership = self.membership
        if self.admin_only and not self.membership.is_admin:
            raise PermissionDenied("This page is for workspace owners and admins.")
        return super().dispatch(request, *args, **kwargs)

    @property
    def workspace(self):
        return self.membership.workspace


class EmailLoginForm(AuthenticationForm):
    username = forms.EmailField(
        label="Email", widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"})
    )


class LoginPage(auth_views.LoginView):
    template_name = "workspaces/login.html"
    form_class = EmailLoginForm
    redirect_authenticated_user = True


class LogoutPage(auth_views.LogoutView):
    """POST only (Django's LogoutView), so a link on another site cannot sign anyone out."""


class SwitchWorkspacePage(View):
    """POST workspace=<id>: make it the session's current workspace, then go back where the user was."""

    def post(self, request):
        if not request.user.is_authenticated:
            return HttpResponseRedirect(reverse("login"))
        if switch_workspace(request, request.POST.get("workspace", "")) is None:
            raise PermissionDenied("You are not a member of that workspace.")
        next_url = request.POST.get("next", "")
        if not url_has_allowed_host_and_scheme(next_url, {request.get_host()}, require_https=request.is_secure()):
            next_url = reverse("tables:index")
        return HttpResponseRedirect(next_url)


class RetentionForm(forms.Form):
    email_log_retention_days = forms.IntegerField(
        label="Keep Email Log rows for (days)",
        required=False,
        min_value=RETENTION_MIN_DAYS,
        max_value=RETENTION_MAX_DAYS,
        help_text=(
            f"From {RETENTION_MIN_DAYS} to {RETENTION_MAX_DAYS} days. Older rows are deleted automatically, with their "
            "delivery events. Leave empty to keep every row."
        ),
        widget=forms.NumberInput(attrs={"placeholder": "forever"}),
    )


class WorkspaceSettingsPage(WorkspacePageMixin, View):
    """Settings -> Workspace: every member sees how long Email Log rows are kept; the OWNER changes it."""

    template_name = "workspaces/settings.html"

    def get(self, request):
        form = RetentionForm(initial={"email_log_retention_days": self.workspace.email_log_retention_days})
        return self.render(form)

    def post(self, request):
        if not self.membership.is_owner:
            raise PermissionDenied("Only the workspace owner changes its settings.")
        form = RetentionForm(request.POST)
        if form.is_valid():
            days = form.cleaned_data["email_log_retention_days"]
            try:
                set_email_log_retention(self.workspace, days, actor=request.user)
            except ValidationError as error:
                form.add_error("email_log_retention_days", error.messages)
            else:
                kept = f"for {days} days" if days else "forever"
                messages.success(request, f"Saved: Email Log rows are now kept {kept}.")
                return HttpResponseRedirect(reverse("workspace-settings"))
        return self.render(form, status=400)

    def render(self, form, status=200):
        context = {"form": form, "workspace": self.workspace, "can_change": self.membership.is_owner}
        return render(self.request, self.template_name, context, status=status)
