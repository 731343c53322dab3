from django import forms
from django.contrib import admin

from oauth_app.models import OAuthConnection, OAuthRefreshRun


class OAuthConnectionAdminForm(forms.ModelForm):
    client_secret = forms.CharField(
        widget=forms.PasswordInput(render_value=False),
        required=False,
        help_text="Leave empty to keep the current value.",
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

    def save(self, commit=True):
        connection = super().save(commit=False)
        if not self.cleaned_data.get("client_secret") and connection.pk:
            connection.client_secret = OAuthConnection.objects.get(pk=connection.pk).client_secret
        if commit:
            connection.save()
        return connection


@admin.register(OAuthConnection)
class OAuthConnectionAdmin(admin.ModelAdmin):
    form = OAuthConnectionAdminForm
    list_display = ["name", "organization", "flow_type", "status", "last_refresh_at"]
    list_filter = ["flow_type", "status", "organization"]
    search_fields = ["name", "description", "client_id"]
    list_select_related = ["organization"]
    autocomplete_fields = ["organization"]
    readonly_fields = ["status", "status_message", "last_refresh_at"]


@admin.register(OAuthRefreshRun)
class OAuthRefreshRunAdmin(admin.ModelAdmin):
    list_display = ["started_at", "completed_at", "checked", "refreshed", "failed"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
