"""`/account/` (DESIGN §17, §18): a signed-in user manages their second factors, passkeys, password,
sessions and personal API tokens. Server-rendered on the site's base template; every change is a POST
(CSRF-checked) that goes through the same services as the API. One-time values (recovery codes, a new
token, a TOTP secret being set up) are rendered in the answer to that POST and never stored readable.
"""

from __future__ import annotations

import datetime

from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.mixins import LoginRequiredMixin
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views import View
from rest_framework import exceptions as drf_exceptions
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from accounts import mfa, passkeys, services
from accounts.models import Passkey, PersonalToken, RecoveryCode, TotpDevice
from bifrost_site.middleware import client_ip

TOKEN_LIFETIMES = [(30, "30 days"), (90, "90 days"), (180, "180 days"), (365, "1 year")]


def _messages_of(exc: drf_exceptions.APIException) -> list[str]:
    detail = exc.detail
    if isinstance(detail, dict):
        return [str(m) for value in detail.values() for m in (value if isinstance(value, list) else [value])]
    if isinstance(detail, list):
        return [str(m) for m in detail]
    return [str(detail)]


class AccountView(LoginRequiredMixin, View):
    template_name = "accounts/account.html"

    def context(self, request, **extra) -> dict:
        user = request.user
        now = timezone.now()
        return {
            "methods": mfa.user_methods(user),
            "mfa_required": mfa.mfa_required_for(user),
            "totp_on": TotpDevice.objects.filter(user=user, confirmed_at__isnull=False).exists(),
            "recovery_codes_left": RecoveryCode.objects.filter(user=user, used_at__isnull=True).count(),
            "passkeys": Passkey.objects.filter(user=user),
            "sessions": OutstandingToken.objects.filter(
                user=user, expires_at__gt=now, blacklistedtoken__isnull=True
            ).order_by("-created_at")[:50],
            "tokens": PersonalToken.objects.filter(user=user).order_by("-created_at"),
            "token_lifetimes": TOKEN_LIFETIMES,
            "now": now,
            **extra,
        }

    def get(self, request):
        return render(request, self.template_name, self.context(request))

    def post(self, request):
        action = request.POST.get("action", "")
        handler = getattr(self, f"do_{action.replace('-', '_')}", None)
        if handler is None or not action.replace("-", "_").isidentifier():
            messages.error(request, "Unknown action.")
            return redirect("account")
        try:
            return handler(request)
        except drf_exceptions.APIException as exc:
            for text in _messages_of(exc):
                messages.error(request, text)
            return redirect("account")

    # --- authenticator app and recovery codes ---

    def do_totp_begin(self, request):
        enrolment = mfa.totp_begin(user=request.user)
        # The SVG comes from qrcode for our own otpauth URI: no user input reaches it as markup.
        totp = {"secret": enrolment.secret, "qr_svg": mark_safe(enrolment.qr_svg)}  # noqa: S308
        return render(request, self.template_name, self.context(request, totp_setup=totp))

    def do_totp_confirm(self, request):
        try:
            codes = mfa.totp_confirm(user=request.user, code=request.POST.get("code", ""), ip=client_ip(request))
        except drf_exceptions.ValidationError as exc:
            device = TotpDevice.objects.filter(user=request.user, confirmed_at__isnull=True).first()
            if device is None:
                raise
            uri = mfa.otpauth_uri(user=request.user, secret=device.secret)
            totp = {"secret": device.secret, "qr_svg": mark_safe(mfa.qr_svg(uri)), "error": _messages_of(exc)[0]}  # noqa: S308
            return render(request, self.template_name, self.context(request, totp_setup=totp), status=400)
        request.user.refresh_from_db(fields=["token_version"])
        update_session_auth_hash(request, request.user)
        messages.success(request, "Two-step sign-in is on. Your other sessions were signed out.")
        return render(request, self.template_name, self.context(request, recovery_codes=codes))

    def do_totp_remove(self, request):
        mfa.totp_remove(user=request.user)
        messages.success(request, "The authenticator app was removed.")
        return redirect("account")

    def do_recovery_codes(self, request):
        codes = mfa.recovery_codes_regenerate(user=request.user)
        messages.success(request, "New recovery codes: the old ones no longer work.")
        return render(request, self.template_name, self.context(request, recovery_codes=codes))

    # --- passkeys (registration runs in passkeys.js against the API) ---

    def do_passkey_remove(self, request):
        passkey = Passkey.objects.filter(user=request.user, id=_uuid(request.POST.get("passkey_id"))).first()
        if passkey is None:
            messages.error(request, "That passkey does not exist.")
            return redirect("account")
        passkeys.passkey_remove(user=request.user, passkey=passkey)
        messages.success(request, f"The passkey “{passkey.name}” was removed.")
        return redirect("account")

    # --- password and sessions ---

    def do_password(self, request):
        services.password_change(
            user=request.user,
            current_password=request.POST.get("current_password", ""),
            new_password=request.POST.get("new_password", ""),
            ip=client_ip(request),
        )
        request.user.refresh_from_db(fields=["token_version"])
        update_session_auth_hash(request, request.user)
        messages.success(request, "Your password was changed and your other sessions were signed out.")
        return redirect("account")

    def do_sessions_end(self, request):
        services.user_sessions_end(user_ids=[request.user.id], reason="user.sessions_end")
        request.user.refresh_from_db(fields=["token_version"])
        update_session_auth_hash(request, request.user)  # this browser stays signed in
        messages.success(request, "Your other sessions (browsers and API tokens) were signed out.")
        return redirect("account")

    # --- personal API tokens ---

    def do_token_create(self, request):
        try:
            days = int(request.POST.get("days", "90"))
        except ValueError:
            days = 90
        days = min(max(days, 1), 365)
        created = services.personal_token_create(
            user=request.user,
            name=request.POST.get("name", ""),
            expires_at=timezone.now() + datetime.timedelta(days=days),
        )
        return render(request, self.template_name, self.context(request, new_token=created))

    def do_token_revoke(self, request):
        token = PersonalToken.objects.filter(user=request.user, id=_uuid(request.POST.get("token_id"))).first()
        if token is None:
            messages.error(request, "That token does not exist.")
            return redirect("account")
        services.personal_token_revoke(token=token, by=request.user)
        messages.success(request, f"The token “{token.name}” was revoked.")
        return redirect("account")


def _uuid(value):
    import uuid

    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None
