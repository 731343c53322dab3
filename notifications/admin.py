from django import forms
from django.contrib import admin

from audit.admin_mixins import AuditedAdminMixin
from notifications.models import NotificationChannel, NotificationDelivery, NotificationRule


class NotificationChannelAdminForm(forms.ModelForm):
    """The Apprise URL is write-only: never rendered back, kept when the field is left empty."""

    url = forms.CharField(
        widget=forms.PasswordInput(render_value=False),
        required=False,
        max_length=4000,
        help_text="An Apprise URL (write-only: never shown again). Required for a new channel; leave empty to keep "
        "the current one.",
    )

    class Meta:
        model = NotificationChannel
        fields = ["name", "organization", "url", "enabled"]

    def clean_url(self):
        import apprise

        value = self.cleaned_data.get("url")
        if not value and self.instance._state.adding:
            raise forms.ValidationError("A URL is required for a new channel.")
        if value and not apprise.Apprise().add(value):
            raise forms.ValidationError("Not a valid Apprise URL.")
        return value

    def save(self, commit=True):
        channel = super().save(commit=False)
        if not self.cleaned_data.get("url") and not channel._state.adding:
            channel.url = NotificationChannel.objects.get(pk=channel.pk).url
        if commit:
            channel.save()
        return channel


@admin.register(NotificationChannel)
class NotificationChannelAdmin(AuditedAdminMixin, admin.ModelAdmin):
    form = NotificationChannelAdminForm
    audit_resource_type = "notification_channel"
    audit_secret_fields = frozenset({"url"})
    list_display = ["name", "organization", "scheme", "enabled", "updated_at"]
    list_filter = ["enabled", "organization"]
    search_fields = ["name"]
    list_select_related = ["organization"]


@admin.register(NotificationRule)
class NotificationRuleAdmin(AuditedAdminMixin, admin.ModelAdmin):
    audit_resource_type = "notification_rule"
    list_display = ["name", "organization", "events", "workflow_names", "enabled"]
    list_filter = ["enabled", "organization"]
    search_fields = ["name"]
    list_select_related = ["organization"]
    filter_horizontal = ["channels"]


@admin.register(NotificationDelivery)
class NotificationDeliveryAdmin(admin.ModelAdmin):
    list_display = ["event", "channel", "organization", "status", "attempts", "last_attempt_at", "created_at"]
    list_filter = ["status", "event", "organization"]
    search_fields = ["title", "last_error"]
    list_select_related = ["channel", "organization"]
    readonly_fields = [f.name for f in NotificationDelivery._meta.fields]
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
