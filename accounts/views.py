"""Browser sign-in pages (DESIGN §6, §17): `/login/` (session; the email first, then single sign-on or
the password, then the second factor) and `/logout/`.

After sign-in a user goes to the page they asked for (`?next=`, same host only); without one,
ORG users go to `/forms/` and platform users to `/admin/`. ORG users are never sent to `/admin/`.
Failed attempts share the API login's throttle and audit trail.
"""

import time
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth import login as auth_login
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.shortcuts import redirect, render
from django.utils.safestring import mark_safe
from django.views import View
from rest_framework import exceptions as drf_exceptions

import audit
from accounts import mfa, services, sso
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
        refusal = sso.password_sign_in_refused(email=user.email, user=user)
        if refusal:
            raise ValidationError(refusal, code="sso_enforced")


class AdminSignInForm(EmailAuthenticationForm):
    """`/admin/login/` (Django's admin sign-in, kept for scripts and muscle memory): the checks of `/login/`
    (lock-out, audit, inactive accounts, enforced single sign-on) plus staff only. An account that needs a
    second factor (or must set one up) is sent to `/login/`, which asks for it: a password alone never opens
    the admin of such an account (DESIGN §17)."""

    error_messages = {
        **EmailAuthenticationForm.error_messages,
        "not_staff": "Please enter the correct email and password for a staff account.",
        "second_factor": "This account signs in with a second factor: use the sign-in page (/login/).",
    }

    def clean(self):
        cleaned = super().clean()
        user = self.get_user()
        if user is not None and not user.is_staff:
            raise ValidationError(self.error_messages["not_staff"], code="not_staff")
        if user is not None and mfa_step_for(user) is not None:
            raise ValidationError(self.error_messages["second_factor"], code="second_factor")
        return cleaned


class SessionLoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = EmailAuthenticationForm
    redirect_authenticated_user = True

    def form_valid(self, form):
        user = form.get_user()
        step = mfa_step_for(user)
        if step is not None:
            self.signing_in = user
            # The password was right; the session is not signed in until the second factor is given.
            self.request.session[MFA_PENDING] = {
                "user_id": str(user.id),
                "purpose": step,
                "version": user.token_version,
                "next": self.get_success_url(),
                "since": time.time(),
            }
            return redirect("login-mfa-setup" if step == mfa.PURPOSE_SETUP else "login-mfa")
        response = super().form_valid(form)
        audit.record(
            action="auth.login",
            resource_type="user",
            resource_id=user.id,
            actor=user,
            organization=user.organization_id,
            changes={"via": "session"},
        )
        return response

    signing_in = None  # the user whose password was right, before the session is signed in

    def post(self, request, *args, **kwargs):
        """Email first (DESIGN §17). A POST without a `password` field is the email step: an address whose
        domain has an enforced single sign-on goes to its provider; any other address gets the password
        step (with an SSO button when its domain has SSO), the same page whether or not an account exists.
        A POST with `password` signs in (unless that domain enforces SSO); `sso` asks for the provider."""
        email = (request.POST.get("username") or "").strip().lower()
        provider = sso.provider_for_email(email) if "@" in email else None
        if "sso" in request.POST:
            if provider is not None:
                return self._to_provider(email)
            if not _is_email(email):
                return self._email_step(error="Enter a valid email address.", email=email)
            return sso_refused(request, f"No single sign-on is set up for {sso.email_domain(email)}.")
        if provider is not None and provider.enforce:
            return self._to_provider(email)
        if "password" not in request.POST:
            if not _is_email(email):
                return self._email_step(error="Enter a valid email address.", email=email)
            return self.render_to_response(
                self.get_context_data(form=self.authentication_form(request, initial={"username": email}))
            )
        return super().post(request, *args, **kwargs)

    def _to_provider(self, email: str):
        # Through a page of our own: the login page's CSP (form-action 'self') would block a form
        # submission that redirects to another origin.
        next_url = self.get_redirect_url()
        query = {"email": email, **({"next": next_url} if next_url else {})}
        return redirect("/login/sso/?" + urlencode(query))

    def _email_step(self, *, error: str = "", email: str = ""):
        form = self.authentication_form(self.request, initial={"username": email})
        return self.render_to_response(self.get_context_data(form=form, email_error=error), status=400)

    def get_context_data(self, **kwargs):
        """`email`: the address of the password step (None on the email step); `sso_available`: whether
        its domain has single sign-on (a second way in on the password step)."""
        context = super().get_context_data(**kwargs)
        form = context["form"]
        email = None
        if not context.get("email_error"):
            if form.is_bound:
                email = None if form.errors.get("username") else form.cleaned_data.get("username")
            else:
                email = form.initial.get("username") or None
        context["email"] = email
        context["sso_available"] = bool(email) and sso.provider_for_email(email) is not None
        if email:
            form.fields["password"].widget.attrs["autofocus"] = True
        context["restart_url"] = "/login/" + (f"?{urlencode({'next': context['next']})}" if context.get("next") else "")
        return context

    def _is_platform_user(self) -> bool:
        return bool(getattr(self.signing_in or self.request.user, "is_platform_admin", False))

    def get_redirect_url(self):
        url = super().get_redirect_url()  # "" unless a same-host `next`
        if url and not self._is_platform_user() and url.startswith("/admin"):
            return ""
        return url

    def get_default_redirect_url(self):
        return "/admin/" if self._is_platform_user() else "/forms/"


def _is_email(value: str) -> bool:
    try:
        validate_email(value)
    except ValidationError:
        return False
    return True


class SessionLogoutView(auth_views.LogoutView):
    """POST signs out (Django's rule: no sign-out by a cross-site GET); GET shows a confirmation."""

    http_method_names = ["get", "post", "options"]
    next_page = "/login/"

    def get(self, request, *args, **kwargs):
        return render(request, "accounts/logout.html")


# --- the second factor of a page sign-in (DESIGN §17) ---

MFA_PENDING = "bifrost_mfa_pending"


def mfa_step_for(user) -> str | None:
    if mfa.user_has_mfa(user):
        return mfa.PURPOSE_VERIFY
    if mfa.mfa_required_for(user):
        return mfa.PURPOSE_SETUP
    return None


def pending_user(request, purpose: str):
    """The user whose password was right in this browser session, if still valid for this step."""
    pending = request.session.get(MFA_PENDING)
    if not pending or pending.get("purpose") != purpose:
        return None
    if time.time() - pending.get("since", 0) > mfa.MFA_TOKEN_MAX_AGE_SECONDS:
        return None
    user = get_user_model().objects.select_related("organization").filter(id=pending["user_id"]).first()
    if user is None or user.token_version != pending.get("version"):
        return None
    try:
        check_user_may_sign_in(user)
    except drf_exceptions.PermissionDenied:
        return None
    return user


def finish_page_sign_in(request, user, method: str):
    nxt = request.session.get(MFA_PENDING, {}).get("next") or "/"
    request.session.pop(MFA_PENDING, None)
    auth_login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    services.login_failures_clear(services.login_failure_key(client_ip(request), user.email))
    audit.record(
        action="auth.login",
        resource_type="user",
        resource_id=user.id,
        actor=user,
        organization=user.organization_id,
        changes={"via": "session", "mfa": method},
    )
    return nxt


class MFAPageView(View):
    """`/login/mfa/`: the code (TOTP or recovery code) after the password."""

    template_name = "accounts/login_mfa.html"

    def get(self, request):
        user = pending_user(request, mfa.PURPOSE_VERIFY)
        if user is None:
            return redirect("login")
        return render(request, self.template_name, {"methods": mfa.user_methods(user)})

    def post(self, request):
        user = pending_user(request, mfa.PURPOSE_VERIFY)
        if user is None:
            return redirect("login")
        key = services.login_failure_key(client_ip(request), user.email)
        context = {"methods": mfa.user_methods(user)}
        if services.login_failures(key) >= settings.LOGIN_FAILURE_LIMIT:
            context["error"] = "Too many failed sign-in attempts; try again later."
            return render(request, self.template_name, context, status=429)
        method = mfa.code_verify(user=user, code=request.POST.get("code", ""))
        if method is None:
            mfa.failure_record(key, user, "invalid_mfa_code")
            context["error"] = "That code is not right."
            return render(request, self.template_name, context, status=400)
        return redirect(finish_page_sign_in(request, user, method))


class MFASetupPageView(View):
    """`/login/mfa/setup/`: a user who must enrol sets up an authenticator app before signing in."""

    template_name = "accounts/login_mfa_setup.html"

    def _enrolment_context(self, user) -> dict:
        enrolment = mfa.totp_begin(user=user)
        # The SVG is generated here by qrcode from our own otpauth URI: no user input reaches it as markup.
        return {"secret": enrolment.secret, "qr_svg": mark_safe(enrolment.qr_svg), "email": user.email}  # noqa: S308

    def get(self, request):
        user = pending_user(request, mfa.PURPOSE_SETUP)
        if user is None:
            return redirect("login")
        return render(request, self.template_name, self._enrolment_context(user))

    def post(self, request):
        user = pending_user(request, mfa.PURPOSE_SETUP)
        if user is None:
            return redirect("login")
        try:
            codes = mfa.totp_confirm(user=user, code=request.POST.get("code", ""), ip=client_ip(request))
        except (drf_exceptions.ValidationError, drf_exceptions.Throttled) as exc:
            from accounts.models import TotpDevice

            device = TotpDevice.objects.filter(user=user, confirmed_at__isnull=True).first()
            context = (
                self._enrolment_context(user)
                if device is None
                else {
                    "secret": device.secret,
                    "qr_svg": mark_safe(mfa.qr_svg(mfa.otpauth_uri(user=user, secret=device.secret))),  # noqa: S308
                    "email": user.email,
                }
            )
            context["error"] = (
                "Too many failed sign-in attempts; try again later."
                if isinstance(exc, drf_exceptions.Throttled)
                else "That code is not right; check the time on your device."
            )
            return render(request, self.template_name, context, status=400)
        user.refresh_from_db()
        nxt = finish_page_sign_in(request, user, "totp_enrolment")
        return render(request, "accounts/recovery_codes.html", {"recovery_codes": codes, "next": nxt})


class MFAPasskeyOptionsPageView(View):
    """`POST /login/mfa/passkey/options/`: the options for navigator.credentials.get (pending sign-in)."""

    def post(self, request):
        from django.http import JsonResponse

        from accounts import passkeys

        user = pending_user(request, mfa.PURPOSE_VERIFY)
        if user is None:
            return JsonResponse({"message": "Sign in again."}, status=401)
        return JsonResponse(passkeys.authentication_options(user=user, rp_id=passkeys.rp_id_for(request)))


class MFAPasskeyPageView(View):
    """`POST /login/mfa/passkey/` (JSON `credential`, `state`): signs the session in → `{"redirect": …}`."""

    def post(self, request):
        import json

        from django.http import JsonResponse

        from accounts import passkeys

        user = pending_user(request, mfa.PURPOSE_VERIFY)
        if user is None:
            return JsonResponse({"message": "Sign in again."}, status=401)
        key = services.login_failure_key(client_ip(request), user.email)
        if services.login_failures(key) >= settings.LOGIN_FAILURE_LIMIT:
            return JsonResponse({"message": "Too many failed sign-in attempts; try again later."}, status=429)
        try:
            body = json.loads(request.body or b"{}")
            ok = passkeys.passkey_verify(
                user=user, credential=body["credential"], state=body["state"], rp_id=passkeys.rp_id_for(request)
            )
        except (ValueError, KeyError, TypeError, drf_exceptions.ValidationError):
            ok = False
        if not ok:
            mfa.failure_record(key, user, "invalid_passkey")
            return JsonResponse({"message": "The passkey was not accepted."}, status=400)
        return JsonResponse({"redirect": finish_page_sign_in(request, user, "passkey")})


# --- single sign-on (DESIGN §17) ---


def sso_refused(request, message: str, *, status: int = 400):
    return render(request, "accounts/sso_refused.html", {"message": message}, status=status)


def sso_continue(request, provider, email: str, next_url: str):
    """A page that sends the browser on to the provider (meta refresh, and a link): a new navigation,
    which the login form's CSP `form-action 'self'` does not govern, unlike a redirect of its POST."""
    try:
        url = sso.sign_in_begin(
            request=request,
            provider=provider,
            email=email,
            next_url=next_url,
            redirect_uri=request.build_absolute_uri("/login/sso/callback/"),
        )
    except sso.SSOError as exc:
        return sso_refused(request, str(exc), status=502)
    return render(request, "accounts/sso_continue.html", {"url": url, "provider": provider.label})


class SSOStartView(View):
    """`/login/sso/?email=…`: straight to the provider that owns the email's domain."""

    def get(self, request):
        from django.utils.http import url_has_allowed_host_and_scheme

        email = (request.GET.get("email") or "").strip().lower()
        if "@" not in email:
            return redirect("login")
        provider = sso.provider_for_email(email)
        if provider is None:
            return sso_refused(request, f"No single sign-on is set up for {sso.email_domain(email)}.")
        next_url = request.GET.get("next", "")
        if not url_has_allowed_host_and_scheme(next_url, {request.get_host()}, request.is_secure()):
            next_url = ""
        return sso_continue(request, provider, email, next_url)


class SSOCallbackView(View):
    """`/login/sso/callback/`: the provider sends the browser back with `code` and `state`."""

    def get(self, request):
        try:
            user, next_url = sso.sign_in_complete(
                request=request,
                state=request.GET.get("state", ""),
                code=request.GET.get("code", ""),
                error=request.GET.get("error", ""),
            )
        except sso.SSOError as exc:
            audit.record(
                action="auth.login_failed",
                resource_type="user",
                actor_name="sso",
                changes={"reason": "sso", "detail": str(exc)},
            )
            return sso_refused(request, str(exc), status=403)
        request.session.pop(MFA_PENDING, None)
        invitation_id = request.session.pop("bifrost_invitation", None)
        if invitation_id:
            from accounts import invitations

            invitations.invitation_complete_by_sso(invitation_id=invitation_id, user=user)
        auth_login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        audit.record(
            action="auth.login",
            resource_type="user",
            resource_id=user.id,
            actor=user,
            organization=user.organization_id,
            changes={"via": "sso"},
        )
        if not user.is_platform_admin and (not next_url or next_url.startswith("/admin")):
            next_url = "/forms/"
        return redirect(next_url or "/admin/")


# --- accepting an invitation (DESIGN §17) ---


class InvitationAcceptView(View):
    """`/invitations/<token>/`: set a password (or sign in with the organization's SSO) and the invited
    user exists, with the invited roles. The link works once."""

    template_name = "accounts/invitation.html"

    def _context(self, invitation, **extra) -> dict:
        provider = sso.provider_for_email(invitation.email)
        return {
            "invitation": invitation,
            "sso_available": provider is not None,
            "password_allowed": provider is None or not provider.enforce,
            **extra,
        }

    def get(self, request, token):
        from accounts import invitations

        invitation = invitations.invitation_for_token(token)
        if invitation is None:
            return sso_refused(request, "This invitation link is invalid, used, revoked or expired.", status=404)
        return render(request, self.template_name, self._context(invitation))

    def post(self, request, token):
        from urllib.parse import urlencode

        from accounts import invitations

        invitation = invitations.invitation_for_token(token)
        if invitation is None:
            return sso_refused(request, "This invitation link is invalid, used, revoked or expired.", status=404)
        context = self._context(invitation)
        if "sso" in request.POST and context["sso_available"]:
            request.session[invitations.INVITATION_SESSION_KEY] = str(invitation.id)
            return redirect("/login/sso/?" + urlencode({"email": invitation.email}))
        if not context["password_allowed"]:
            return render(request, self.template_name, {**context, "error": "Use single sign-on."}, status=400)
        password = request.POST.get("password", "")
        if password != request.POST.get("password_again", ""):
            return render(request, self.template_name, {**context, "error": "The passwords differ."}, status=400)
        try:
            user = invitations.invitation_accept(raw=token, password=password, name=request.POST.get("name", ""))
        except drf_exceptions.APIException as exc:
            detail = exc.detail
            texts = [str(m) for v in detail.values() for m in v] if isinstance(detail, dict) else [str(detail)]
            return render(request, self.template_name, {**context, "error": " ".join(texts)}, status=400)
        step = mfa_step_for(user)
        if step is not None:  # e.g. a platform admin who must enrol: the sign-in step asks for it
            return redirect("login")
        auth_login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("/admin/" if user.is_platform_admin else "/forms/")
