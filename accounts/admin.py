from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import ValidationError
from django.db.models import Q

from accounts import services
from accounts.models import Role, User, UserRole, UserType
from audit.admin_mixins import AuditedAdminMixin
from bifrost_site.admin_tools import ExplainedConstraintsMixin


class RoleChoiceField(forms.ModelChoiceField):
    default_error_messages = {
        "invalid_choice": "This role belongs to another organization: a user may only hold roles of their own "
        "organization or GLOBAL roles."
    }

    label_field = "name"

    def label_from_instance(self, obj):
        return f"{getattr(obj, self.label_field)} ({obj.organization.name if obj.organization_id else 'GLOBAL'})"


def _page_object(model, request):
    """The object whose admin change page is being shown or saved (None on an add page)."""
    object_id = request.resolver_match.kwargs.get("object_id") if request.resolver_match else None
    try:
        return model.objects.filter(pk=object_id).first() if object_id else None
    except (ValueError, ValidationError):
        return None


class AssignedByAdminMixin:
    """A role assignment added on this page (an inline row) records who assigned it."""

    def save_formset(self, request, form, formset, change):
        for row in formset.forms:
            instance = row.instance
            if instance._state.adding and hasattr(instance, "assigned_by_id") and instance.assigned_by_id is None:
                instance.assigned_by = request.user
        super().save_formset(request, form, formset, change)


class UserRoleInline(admin.TabularInline):
    """The roles a user may hold: their organization's and the GLOBAL ones (UserRole.clean() refuses
    the rest), each labelled with its organization."""

    model = UserRole
    fk_name = "user"
    extra = 0
    readonly_fields = ["assigned_by", "assigned_at"]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "role":
            user = _page_object(User, request)
            organization_id = user.organization_id if user is not None else None
            kwargs["queryset"] = Role.objects.filter(
                Q(organization__isnull=True) | Q(organization_id=organization_id)
            ).select_related("organization")
            kwargs["form_class"] = RoleChoiceField
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class UserChoiceField(RoleChoiceField):
    label_field = "email"


class RoleUserInline(admin.TabularInline):
    """The users who may hold this role: its organization's users, or every organization's for a GLOBAL
    role (platform admins hold no roles), each labelled with their organization."""

    model = UserRole
    fk_name = "role"
    extra = 0
    readonly_fields = ["assigned_by", "assigned_at"]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "user":
            role = _page_object(Role, request)
            users = User.objects.filter(user_type=UserType.ORG).select_related("organization").order_by("email")
            if role is not None and role.organization_id:
                users = users.filter(organization_id=role.organization_id)
            kwargs["queryset"] = users
            kwargs["form_class"] = UserChoiceField
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class RoleForm(ExplainedConstraintsMixin, forms.ModelForm):
    class Meta:
        model = Role
        fields = ["name", "description", "organization", "is_active"]


class UserCreationForm(forms.ModelForm):
    password = forms.CharField(
        widget=forms.PasswordInput, required=False, help_text="Leave empty for an unusable password."
    )

    class Meta:
        model = User
        fields = ["email", "name", "user_type", "organization", "is_platform_admin", "is_active"]

    def save(self, commit=True):
        user = super().save(commit=False)
        if self.cleaned_data.get("password"):
            user.set_password(self.cleaned_data["password"])
        else:
            user.set_unusable_password()
        if commit:
            user.save()
        return user


@admin.register(User)
class UserAdmin(AssignedByAdminMixin, AuditedAdminMixin, DjangoUserAdmin):
    add_form = UserCreationForm
    ordering = ["email"]
    list_display = ["email", "name", "user_type", "organization", "is_platform_admin", "is_active", "last_login"]
    list_filter = ["user_type", "is_platform_admin", "is_active", "organization"]
    search_fields = ["email", "name", "organization__name"]
    list_select_related = ["organization"]
    readonly_fields = ["last_login", "created_at", "updated_at"]
    autocomplete_fields = ["organization"]
    inlines = [UserRoleInline]
    fieldsets = [
        (None, {"fields": ["email", "password", "name"]}),
        ("Tenancy", {"fields": ["user_type", "organization", "is_platform_admin", "is_active"]}),
        ("Dates", {"fields": ["last_login", "created_at", "updated_at"]}),
    ]
    add_fieldsets = [
        (
            None,
            {
                "classes": ["wide"],
                "fields": ["email", "name", "password", "user_type", "organization", "is_platform_admin", "is_active"],
            },
        )
    ]
    filter_horizontal: list = []
    audit_fields = ["email", "name", "user_type", "is_platform_admin", "organization", "is_active", "password"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and "is_active" in form.changed_data and not obj.is_active:
            services.user_sessions_end(user_ids=[obj.pk], reason="user.deactivate")

    def user_change_password(self, request, id, form_url=""):
        """A new password ends the user's sessions (User.set_password already refuses their tokens;
        this also blacklists the refresh tokens and closes their WebSockets at once)."""
        response = super().user_change_password(request, id, form_url)
        if request.method == "POST" and response.status_code == 302:
            services.user_sessions_end(user_ids=[id], reason="user.set_password")
        return response


@admin.register(Role)
class RoleAdmin(AssignedByAdminMixin, AuditedAdminMixin, admin.ModelAdmin):
    form = RoleForm
    list_display = ["name", "organization", "is_active", "created_at"]
    list_filter = ["is_active", ("organization", admin.EmptyFieldListFilter), "organization"]
    search_fields = ["name", "description", "organization__name"]
    audit_fields = ["name", "description", "organization", "is_active"]
    list_select_related = ["organization"]
    autocomplete_fields = ["organization"]
    inlines = [RoleUserInline]


# --- single sign-on (DESIGN §17) ---

from accounts import sso as sso_services  # noqa: E402
from accounts.models import OrganizationSSO  # noqa: E402


class OrganizationSSOForm(forms.ModelForm):
    """The client secret is write-only: the field is always shown empty, and left empty it keeps the
    stored one. Domains are typed one per line or comma-separated."""

    client_secret = forms.CharField(
        widget=forms.PasswordInput(render_value=False),
        required=False,
        help_text="Write-only. Leave empty to keep the stored secret.",
    )
    email_domains = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), help_text="One per line (or comma-separated), e.g. contoso.com."
    )

    class Meta:
        model = OrganizationSSO
        fields = ["organization", "issuer", "client_id", "client_secret", "email_domains", "default_roles"]
        fields += ["enforce", "is_active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["email_domains"] = "\n".join(self.instance.email_domains or [])
            self.initial["client_secret"] = ""

    def clean_email_domains(self):
        import re

        return [d for d in re.split(r"[\s,;]+", self.cleaned_data.get("email_domains") or "") if d]


@admin.register(OrganizationSSO)
class OrganizationSSOAdmin(admin.ModelAdmin):
    """Changes go through accounts.sso.organization_sso_save: validated and audited like the API's."""

    form = OrganizationSSOForm
    list_display = ["organization", "issuer", "client_id", "enforce", "is_active", "updated_at"]
    list_filter = ["enforce", "is_active"]
    search_fields = ["organization__name", "issuer", "client_id"]
    list_select_related = ["organization"]
    autocomplete_fields = ["organization"]
    filter_horizontal = ["default_roles"]

    def save_model(self, request, obj, form, change):
        from rest_framework.exceptions import ValidationError as DRFValidationError

        data = {k: v for k, v in form.cleaned_data.items() if k not in ("organization", "default_roles")}
        data["default_role_ids"] = [role.id for role in form.cleaned_data.get("default_roles") or []]
        if not data.get("client_secret"):
            data.pop("client_secret", None)
        try:
            saved = sso_services.organization_sso_save(
                organization=form.cleaned_data["organization"], data=data, by=request.user
            )
        except DRFValidationError as exc:
            raise ValidationError(str(exc.detail)) from None
        obj.pk = saved.pk

    def save_related(self, request, form, formsets, change):
        """The service has set the default roles already."""

    def delete_model(self, request, obj):
        sso_services.organization_sso_delete(organization=obj.organization, by=request.user)
