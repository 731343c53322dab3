"""Browser sign-in pages (DESIGN §6): `/login/` (session, email + password) and `/logout/`.

After sign-in a user goes to the page they asked for (`?next=`, same host only); without one,
ORG users go to `/forms/` and platform users to `/admin/`. ORG users are never sent to `/admin/`.
Failed attempts share the API login's throttle and audit trail.
"""

from django import forms
from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.shortcuts import render
from rest_framework import exceptions as drf_exceptions

import audit
from accounts import services
from accounts.authentication import check_user_may_sign_in
from bifrost_site.middleware import client_ip


class EmailAuthenticationForm(AuthenticationForm):
    username = forms.EmailField(
        label="Email", widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"})
    )

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "Incorrect email or password.",
        "throttled": "Too many failed sign-in attempts; try again later.",
    }

    def clean(self):
        username = (self.cleaned_data.get("username") or "").strip().lower()
        self.cleaned_data["username"] = username
        key = services.login_failure_key(client_ip(self.request), username)
        if services.login_failures(key) >= settings.LOGIN_FAILURE_LIMIT:
            audit.record(action="auth.login_throttled", resource_type="user", actor_name=username or "anonymous")
            raise ValidationError(self.error_messages["throttled"], code="throttled")
        try:
            cleaned = super().clean()
        except ValidationError:
            services.login_failure_record(key)
            audit.record(
                action="auth.login_failed",
                resource_type="user",
                actor_name=username or "anonymous",
                changes={"reason": "invalid_credentials", "via": "session"},
            )
            raise
        return cleaned

    def confirm_login_allowed(self, user):
        super().confirm_login_allowed(user)
        try:
            check_user_may_sign_in(user)
        except drf_exceptions.PermissionDenied as exc:
            raise ValidationError(str(exc.detail), code="inactive") from None


class SessionLoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = EmailAuthenticationForm
    redirect_authenticated_user = True

    def form_valid(self, form):
        response = super().form_valid(form)
        user = form.get_user()
        audit.record(
            action="auth.login",
            resource_type="user",
            resource_id=user.id,
            actor=user,
            organization=user.organization_id,
            changes={"via": "session"},
        )
        return response

    def _is_platform_user(self) -> bool:
        return bool(getattr(self.request.user, "is_platform_admin", False))

    def get_redirect_url(self):
        url = super().get_redirect_url()  # "" unless a same-host `next`
        if url and not self._is_platform_user() and url.startswith("/admin"):
            return ""
        return url

    def get_default_redirect_url(self):
        return "/admin/" if self._is_platform_user() else "/forms/"


class SessionLogoutView(auth_views.LogoutView):
    """POST signs out (Django's rule: no sign-out by a cross-site GET); GET shows a confirmation."""

    http_method_names = ["get", "post", "options"]
    next_page = "/login/"

    def get(self, request, *args, **kwargs):
        return render(request, "accounts/logout.html")
