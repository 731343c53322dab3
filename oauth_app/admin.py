from urllib.parse import urlsplit

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

import audit
from audit.services import diff
from bifrost_site.admin_tools import ExplainedConstraintsMixin
from oauth_app.models import FlowType, OAuthConnection, OAuthRefreshRun
from oauth_app.selectors import connection_token


class OAuthConnectionAdminForm(ExplainedConstraintsMixin, forms.ModelForm):
    client_secret = forms.CharField(
        widget=forms.PasswordInput(render_value=False),
        required=False,
        strip=False,
        help_text="Write-only: the current value is never shown. Required for a new connection (unless it is a "
        "public client); leave empty to keep the current one.",
    )
    public_client = forms.BooleanField(
        required=False,
        label="Public client",
        help_text="Authorization code only: the provider registered this client without a secret (PKCE alone).",
    )

    class Meta:
        model = OAuthConnection
        fields = [
            "name",
            "description",
            "organization",
            "flow_type",
            "client_id",
            "client_secret",
            "authorization_url",
            "token_url",
            "scopes",
            "extra_token_params",
        ]

    def clean(self):
        data = super().clean()
        flow = data.get("flow_type")
        if flow == FlowType.AUTHORIZATION_CODE and not data.get("authorization_url"):
            self.add_error("authorization_url", "Required for the authorization code flow.")
        if data.get("public_client") and flow != FlowType.AUTHORIZATION_CODE:
            self.add_error("public_client", "Only an authorization code client can be public.")
        # `_state.adding`, not `pk`: the primary key is a UUID set when the unsaved instance is built.
        if self.instance._state.adding and not data.get("client_secret") and not data.get("public_client"):
            self.add_error(
                "client_secret",
                "Required for a new connection. For an authorization code client registered without a secret, "
                "tick 'Public client'.",
            )
        return data

    def save(self, commit=True):
        connection = super().save(commit=False)
        if not self.cleaned_data.get("client_secret") and not connection._state.adding:
            connection.client_secret = OAuthConnection.objects.get(pk=connection.pk).client_secret
        if commit:
            connection.save()
        return connection


def _snapshot(connection: OAuthConnection) -> dict:
    from oauth_app.services import _snapshot as snapshot

    return snapshot(connection)


class TokenExpiryFilter(admin.SimpleListFilter):
    """Connections whose token has expired or expires within 24 hours (the dashboard's "expiring")."""

    title = "token expiry"
    parameter_name = "expiry"

    def lookups(self, request, model_admin):
        return [("soon", "Expired or expiring within 24 h"), ("none", "No token")]

    def queryset(self, request, queryset):
        from bifrost_site.dashboard import EXPIRY_WINDOW

        if self.value() == "soon":
            return queryset.filter(token__expires_at__lt=timezone.now() + EXPIRY_WINDOW).exclude(status="failed")
        if self.value() == "none":
            return queryset.filter(token__isnull=True)
        return queryset


@admin.register(OAuthConnection)
class OAuthConnectionAdmin(admin.ModelAdmin):
    form = OAuthConnectionAdminForm
    list_display = ["name", "organization", "flow_type", "status", "token_expires_at", "last_refresh_at"]
    list_filter = ["flow_type", "status", TokenExpiryFilter, "organization"]
    search_fields = ["name", "description", "client_id"]
    list_select_related = ["organization", "token"]
    autocomplete_fields = ["organization"]
    readonly_fields = ["status", "status_message", "token_expires_at", "last_refresh_at"]
    actions = ["refresh_now"]
    change_form_template = "admin/oauth_app/oauthconnection/change_form.html"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("token")

    @admin.display(description="token expires at")
    def token_expires_at(self, obj):
        token = connection_token(obj)
        return token.expires_at if token is not None else None

    @admin.action(description="Refresh now (get a new token from the provider)")
    def refresh_now(self, request, queryset):
        for connection in queryset:
            self._refresh(request, connection)

    def _refresh(self, request, connection) -> None:
        from bifrost_site.api.errors import ApplicationError
        from oauth_app.services import connection_refresh

        try:
            connection_refresh(connection=connection)
            self.message_user(request, f"Refreshed OAuth connection '{connection.name}'.", messages.SUCCESS)
        except ApplicationError as exc:
            self.message_user(
                request, f"Refreshing OAuth connection '{connection.name}' failed: {exc.detail}", messages.ERROR
            )

    # --- Connect / Reconnect and Refresh now on a connection's page ---------------------------------

    def get_urls(self):
        name = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path("<uuid:object_id>/connect/", self.admin_site.admin_view(self.connect_view), name=f"{name}_connect"),
            path("<uuid:object_id>/refresh/", self.admin_site.admin_view(self.refresh_view), name=f"{name}_refresh"),
            *super().get_urls(),
        ]

    def _change_url(self, connection) -> str:
        return reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_change", args=[connection.pk])

    def connect_view(self, request, object_id):
        """Start the authorization-code flow (oauth_app.services.connection_authorize) and send the browser
        to the provider; the callback page brings it back to this connection's admin page."""
        from bifrost_site.api.errors import ApplicationError
        from oauth_app.services import connection_authorize
        from oauth_app.views import remember_admin_return

        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        connection = get_object_or_404(OAuthConnection, pk=object_id)
        try:
            url = connection_authorize(
                connection=connection,
                requested_by=request.user,
                redirect_uri=request.build_absolute_uri(reverse("oauth-callback")),
            )
        except ApplicationError as exc:
            self.message_user(request, f"Connecting '{connection.name}' failed: {exc.detail}", messages.ERROR)
            return HttpResponseRedirect(self._change_url(connection))
        remember_admin_return(request, connection, self._change_url(connection))
        # A page of our own that moves on to the provider: the CSP's form-action ('self') forbids a form
        # POST to end in a redirect to another origin, so the browser navigates there from this page.
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": connection,
            "title": f"Connecting {connection.name}",
            "provider_url": url,
            "provider_host": urlsplit(url).netloc,
        }
        return TemplateResponse(request, "admin/oauth_app/oauthconnection/connect.html", context)

    def refresh_view(self, request, object_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        connection = get_object_or_404(OAuthConnection, pk=object_id)
        self._refresh(request, connection)
        return HttpResponseRedirect(self._change_url(connection))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        connection = self.get_object(request, object_id)
        extra_context = dict(extra_context or {})
        if connection is not None:
            name = f"admin:{self.opts.app_label}_{self.opts.model_name}"
            has_token = connection_token(connection) is not None
            if connection.flow_type == FlowType.AUTHORIZATION_CODE:
                extra_context["connect_url"] = reverse(f"{name}_connect", args=[connection.pk])
                extra_context["connect_label"] = "Reconnect" if has_token else "Connect"
            if has_token or connection.flow_type == FlowType.CLIENT_CREDENTIALS:
                extra_context["refresh_url"] = reverse(f"{name}_refresh", args=[connection.pk])
        return super().change_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj, form, change):
        before = _snapshot(OAuthConnection.objects.get(pk=obj.pk)) if change else None
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
        audit.record(
            action="oauth_connection.update" if change else "oauth_connection.create",
            resource_type="oauth_connection",
            resource_id=obj.id,
            organization=obj.organization_id,
            actor=request.user,
            changes={
                **diff(before, _snapshot(obj)),
                "client_auth_changed": bool(form.cleaned_data.get("client_secret")),
            },
        )

    def delete_model(self, request, obj):
        snapshot, pk, org_id = _snapshot(obj), obj.pk, obj.organization_id
        super().delete_model(request, obj)
        audit.record(
            action="oauth_connection.delete",
            resource_type="oauth_connection",
            resource_id=pk,
            organization=org_id,
            actor=request.user,
            changes=diff(snapshot, None),
        )

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)


@admin.register(OAuthRefreshRun)
class OAuthRefreshRunAdmin(admin.ModelAdmin):
    list_display = ["started_at", "completed_at", "checked", "refreshed", "failed"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
