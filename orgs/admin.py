from django import forms
from django.contrib import admin, messages
from rest_framework.exceptions import ValidationError as DRFValidationError

from accounts.models import User
from audit.admin_mixins import AuditedAdminMixin
from bifrost_site.admin_tools import ExplainedConstraintsMixin, JSONEditorField
from orgs.models import Config, ConfigType, Organization
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


class OrganizationForm(ExplainedConstraintsMixin, forms.ModelForm):
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


class SecretNameField(forms.ChoiceField):
    """A secret picker: the secrets' names, each labelled with where it lives (GLOBAL, the organizations).
    Which one a config entry may reference is the entry's scope's business (config_value_validate)."""

    def __init__(self, **kwargs):
        super().__init__(choices=self._choices, **kwargs)

    @staticmethod
    def _choices():
        from secrets_app.models import Secret

        places: dict[str, list[str]] = {}
        for name, organization in Secret.objects.order_by("name", "organization__name").values_list(
            "name", "organization__name"
        ):
            places.setdefault(name, []).append(organization or "GLOBAL")
        return [("", "---------"), *((name, f"{name} ({', '.join(where)})") for name, where in places.items())]


class ConfigForm(ExplainedConstraintsMixin, forms.ModelForm):
    """The value is edited with an input of its type: one input per config type, the one matching
    `config_type` used (bifrost_site/static/bifrost_site/admin/config_value.js shows only that one)."""

    value_string = forms.CharField(
        label="Value (text)",
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 2, "class": "vLargeTextField"}),
    )
    value_int = forms.IntegerField(label="Value (integer)", required=False)
    value_bool = forms.BooleanField(label="Value (true when ticked)", required=False)
    value_json = JSONEditorField(
        label="Value (JSON)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 8, "class": "vLargeTextField bifrost-json", "spellcheck": "false"}),
    )
    value_secret_ref = SecretNameField(label="Value (secret)", required=False)

    VALUE_FIELDS = {
        ConfigType.STRING: "value_string",
        ConfigType.INT: "value_int",
        ConfigType.BOOL: "value_bool",
        ConfigType.JSON: "value_json",
        ConfigType.SECRET_REF: "value_secret_ref",
    }

    class Meta:
        model = Config
        fields = ["key", "config_type", "description", "organization"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.instance._state.adding:
            name = self.VALUE_FIELDS.get(self.instance.config_type)
            if name:
                self.initial.setdefault(name, self.instance.value)
        if "config_type" in self.fields:
            self.fields["config_type"].widget.attrs["data-config-type"] = "select"

    def clean(self):
        cleaned = super().clean()
        config_type = cleaned.get("config_type")
        name = self.VALUE_FIELDS.get(config_type)
        if self.errors or name is None:
            return cleaned
        value = cleaned.get(name)
        if value is None or (value == "" and config_type != ConfigType.STRING):
            self.add_error(name, "Enter a value.")
            return cleaned
        organization = cleaned.get("organization")
        try:
            self.instance.value = config_value_validate(
                config_type=config_type, value=value, organization_id=organization.id if organization else None
            )
        except DRFValidationError as exc:
            self.add_error(name, _drf_message(exc))
        return cleaned


@admin.register(Config)
class ConfigAdmin(AuditedAdminMixin, admin.ModelAdmin):
    form = ConfigForm

    class Media:
        js = ["bifrost_site/admin/config_value.js"]

    list_display = ["key", "config_type", "scope", "display_value", "updated_by", "updated_at"]
    list_filter = ["config_type", ("organization", admin.EmptyFieldListFilter), "organization"]
    search_fields = ["key", "description", "organization__name"]
    list_select_related = ["organization", "updated_by"]
    autocomplete_fields = ["organization"]
    readonly_fields = ["updated_by", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["key", "organization", "config_type", *ConfigForm.VALUE_FIELDS.values(), "description"]}),
        ("Changes", {"fields": ["updated_by", "created_at", "updated_at"]}),
    ]
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
