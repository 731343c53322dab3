from django import forms
from django.contrib import admin, messages
from rest_framework.exceptions import ValidationError as DRFValidationError

from accounts.models import User
from audit.admin_mixins import AuditedAdminMixin
from orgs.models import Config, Organization
from orgs.services import config_key_looks_secret, config_value_validate, normalize_domain


class OrganizationUserInline(admin.TabularInline):
    model = User
    fields = ["email", "name", "is_active", "last_login"]
    readonly_fields = ["email", "name", "is_active", "last_login"]
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


def _drf_message(exc: DRFValidationError) -> str:
    detail = exc.detail
    if isinstance(detail, dict):
        return "; ".join(str(m) for msgs in detail.values() for m in (msgs if isinstance(msgs, list) else [msgs]))
    return str(detail)


class OrganizationForm(forms.ModelForm):
    class Meta:
        model = Organization
        fields = ["name", "domain", "is_active", "require_mfa", "settings"]

    def clean_domain(self):
        try:
            return normalize_domain(self.cleaned_data.get("domain"))
        except DRFValidationError as exc:
            raise forms.ValidationError(_drf_message(exc)) from None


@admin.register(Organization)
class OrganizationAdmin(AuditedAdminMixin, admin.ModelAdmin):
    """Organizations are deactivated, never deleted (their data is kept)."""

    form = OrganizationForm
    list_display = ["name", "domain", "is_active", "created_at"]
    list_filter = ["is_active", "created_at"]
    search_fields = ["name", "domain"]
    readonly_fields = ["created_at", "updated_at"]
    inlines = [OrganizationUserInline]
    actions = ["deactivate", "activate"]
    audit_fields = ["name", "domain", "is_active", "require_mfa", "settings"]

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Deactivate selected organizations (their users can no longer sign in)")
    def deactivate(self, request, queryset):
        self._set_active(request, queryset, False)

    @admin.action(description="Activate selected organizations")
    def activate(self, request, queryset):
        self._set_active(request, queryset, True)

    def _set_active(self, request, queryset, active: bool) -> None:
        count = 0
        for organization in queryset.filter(is_active=not active):
            before = self._audit_snapshot(organization)
            organization.is_active = active
            organization.save(update_fields=["is_active", "updated_at"])
            self._audit(request, organization, "organization.update", before, self._audit_snapshot(organization))
            count += 1
        self.message_user(request, f"{count} organization(s) updated.", messages.SUCCESS)


class ConfigForm(forms.ModelForm):
    class Meta:
        model = Config
        fields = ["key", "config_type", "value", "description", "organization"]

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        organization = cleaned.get("organization")
        try:
            cleaned["value"] = config_value_validate(
                config_type=cleaned.get("config_type"),
                value=cleaned.get("value"),
                organization_id=organization.id if organization else None,
            )
        except DRFValidationError as exc:
            self.add_error("value", _drf_message(exc))
        return cleaned


@admin.register(Config)
class ConfigAdmin(AuditedAdminMixin, admin.ModelAdmin):
    form = ConfigForm
    list_display = ["key", "config_type", "scope", "display_value", "updated_by", "updated_at"]
    list_filter = ["config_type", ("organization", admin.EmptyFieldListFilter), "organization"]
    search_fields = ["key", "description", "organization__name"]
    list_select_related = ["organization", "updated_by"]
    autocomplete_fields = ["organization"]
    readonly_fields = ["updated_by", "created_at", "updated_at"]
    audit_resource_type = "config"
    audit_fields = ["key", "value", "config_type", "description", "organization"]

    @admin.display(description="scope", ordering="organization__name")
    def scope(self, obj):
        return obj.organization.name if obj.organization_id else "GLOBAL"

    @admin.display(description="value")
    def display_value(self, obj):
        return "***" if config_key_looks_secret(obj.key) else obj.value

    def _audit_reveal(self, obj):
        return frozenset() if config_key_looks_secret(obj.key) else frozenset({"value"})

    def save_model(self, request, obj, form, change):
        obj.updated_by = request.user
        super().save_model(request, obj, form, change)
