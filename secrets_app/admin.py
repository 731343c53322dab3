from django import forms
from django.contrib import admin

import audit
from audit.services import diff
from bifrost_site.admin_tools import ExplainedConstraintsMixin
from secrets_app.models import Secret
from secrets_app.selectors import secret_references


class SecretAdminForm(ExplainedConstraintsMixin, forms.ModelForm):
    """The value is write-only: never rendered back, left unchanged when the field is empty."""

    value = forms.CharField(
        widget=forms.PasswordInput(render_value=False),
        required=False,
        max_length=65536,
        strip=False,
        help_text="Write-only: the current value is never shown. Required for a new secret; "
        "leave empty to keep the current one.",
    )

    class Meta:
        model = Secret
        fields = ["name", "description", "organization", "value"]

    def clean_value(self):
        # `_state.adding`, not `pk`: the primary key is a UUID set when the unsaved instance is built.
        value = self.cleaned_data.get("value")
        if not value and self.instance._state.adding:
            raise forms.ValidationError("A value is required for a new secret.")
        return value

    def save(self, commit=True):
        secret = super().save(commit=False)
        if not self.cleaned_data.get("value") and not secret._state.adding:
            secret.value = Secret.objects.get(pk=secret.pk).value
        if commit:
            secret.save()
        return secret


def _snapshot(secret: Secret) -> dict:
    return {
        "name": secret.name,
        "description": secret.description,
        "organization_id": str(secret.organization_id) if secret.organization_id else None,
    }


@admin.register(Secret)
class SecretAdmin(admin.ModelAdmin):
    form = SecretAdminForm
    list_display = ["name", "organization", "created_by", "updated_at"]
    list_filter = ["organization"]
    search_fields = ["name", "description"]
    list_select_related = ["organization", "created_by"]
    autocomplete_fields = ["organization"]
    actions = None  # no bulk delete: deleting checks references one secret at a time

    def save_model(self, request, obj, form, change):
        before = _snapshot(Secret.objects.get(pk=obj.pk)) if change else None
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
        audit.record(
            action="secret.update" if change else "secret.create",
            resource_type="secret",
            resource_id=obj.id,
            organization=obj.organization_id,
            actor=request.user,
            changes={**diff(before, _snapshot(obj)), "value_changed": bool(form.cleaned_data.get("value"))},
        )

    def has_delete_permission(self, request, obj=None):
        """A secret still referenced by config keys or OAuth connections cannot be deleted."""
        if obj is not None:
            refs = secret_references(secret=obj)
            if refs["config_keys"] or refs["oauth_connections"]:
                return False
        return super().has_delete_permission(request, obj)

    def delete_model(self, request, obj):
        snapshot, pk, org_id = _snapshot(obj), obj.pk, obj.organization_id
        super().delete_model(request, obj)
        audit.record(
            action="secret.delete",
            resource_type="secret",
            resource_id=pk,
            organization=org_id,
            actor=request.user,
            changes=diff(snapshot, None),
        )
