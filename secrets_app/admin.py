from django import forms
from django.contrib import admin

from secrets_app.models import Secret


class SecretAdminForm(forms.ModelForm):
    """The value is write-only: never rendered back, left unchanged when the field is empty."""

    value = forms.CharField(
        widget=forms.PasswordInput(render_value=False),
        required=False,
        help_text="Leave empty to keep the current value.",
    )

    class Meta:
        model = Secret
        fields = ["name", "description", "organization", "value"]

    def clean_value(self):
        value = self.cleaned_data.get("value")
        if not value and not self.instance.pk:
            raise forms.ValidationError("A value is required for a new secret.")
        return value

    def save(self, commit=True):
        secret = super().save(commit=False)
        if not self.cleaned_data.get("value"):
            secret.value = Secret.objects.get(pk=secret.pk).value
        if commit:
            secret.save()
        return secret


@admin.register(Secret)
class SecretAdmin(admin.ModelAdmin):
    form = SecretAdminForm
    list_display = ["name", "organization", "created_by", "updated_at"]
    list_filter = ["organization"]
    search_fields = ["name", "description"]
    list_select_related = ["organization", "created_by"]
    autocomplete_fields = ["organization"]
