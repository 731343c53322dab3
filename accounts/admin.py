from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.forms.formsets import DELETION_FIELD_NAME

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


class UserRoleForm(forms.ModelForm):
    """A user made a platform admin on their page loses the roles they held (platform admins hold none,
    DESIGN §4), as `PATCH /api/users/{id}` and the platform SSO's admin group do
    (`services.user_roles_unholdable_drop`): each held role's row is marked for deletion, so it is removed
    with the save and recorded in the page's `user.update` audit entry (`userrole_removed`). A role added
    in the same save is still refused (UserRole.clean())."""

    class Meta:
        model = UserRole
        fields = ["role"]

    def clean(self):
        cleaned = super().clean()
        user = cleaned.get("user")  # the page's user as submitted (the inline's foreign key field)
        if user is not None and user.is_platform_admin and not self.instance._state.adding:
            cleaned[DELETION_FIELD_NAME] = True
        return cleaned


class UserRoleInline(admin.TabularInline):
    """The roles a user may hold: their organization's and the GLOBAL ones (UserRole.clean() refuses
    the rest), each labelled with its organization."""

    model = UserRole
    form = UserRoleForm
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

    def label_from_instance(self, obj):
        return f"{obj.email} ({obj.organization.name if obj.organization_id else 'platform user'})"


class RoleUserInline(admin.TabularInline):
    """The users who may hold this role: its organization's users, or for a GLOBAL role every organization's
    and the MSP staff (platform users who are not admins: approvers, DESIGN §16; platform admins hold no
    roles), each labelled with their organization."""

    model = UserRole
    fk_name = "role"
    extra = 0
    readonly_fields = ["assigned_by", "assigned_at"]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "user":
            role = _page_object(Role, request)
            users = User.objects.filter(
                Q(user_type=UserType.ORG) | Q(user_type=UserType.PLATFORM, is_platform_admin=False)
            ).select_related("organization")
            if role is not None and role.organization_id:
                users = users.filter(organization_id=role.organization_id)
            users = users.order_by("email")
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
        ("Sign-in", {"fields": ["second_factors"]}),
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

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "is_platform_admin":
            kwargs["help_text"] = (
                "A PLATFORM user only. Platform admins see everything and hold no roles: "
                "making this user one removes the roles below when you save."
            )
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and "is_active" in form.changed_data and not obj.is_active:
            services.user_sessions_end(user_ids=[obj.pk], reason="user.deactivate")

    readonly_fields = [*readonly_fields, "second_factors"]
    actions = ["reset_second_factors"]

    @admin.display(description="Second factors")
    def second_factors(self, obj) -> str:
        from accounts import mfa

        if obj is None or obj.pk is None:
            return "—"
        summary = mfa.mfa_summary(obj)
        parts = (["authenticator app"] if summary["totp"] else []) + [
            f"passkey “{name}”" for name in summary["passkeys"]
        ]
        if not parts:
            return "None" + (" (required: set up at the next sign-in)" if mfa.mfa_required_for(obj) else "")
        return f"{', '.join(parts)}; {summary['recovery_codes_left']} recovery codes left"

    # --- resetting second factors: a button on the user's page, and an action on the list (docs/identity.md)

    def get_urls(self):
        from django.urls import path

        name = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path(
                "<uuid:object_id>/mfa-reset/", self.admin_site.admin_view(self.mfa_reset_view), name=f"{name}_mfa_reset"
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        from django.urls import reverse

        extra_context = dict(extra_context or {})
        user = self.get_object(request, object_id)
        if user is not None and self.may_reset_second_factors(request, user):
            extra_context["mfa_reset_url"] = reverse(
                f"admin:{self.opts.app_label}_{self.opts.model_name}_mfa_reset", args=[user.pk]
            )
        return super().change_view(request, object_id, form_url, extra_context)

    @staticmethod
    def may_reset_second_factors(request, user=None) -> bool:
        return bool(request.user.is_platform_admin) and (user is None or user.pk != request.user.pk)

    def has_reset_second_factors_permission(self, request) -> bool:
        return self.may_reset_second_factors(request)

    def mfa_reset_view(self, request, object_id):
        """GET: what will be removed, and a confirmation; POST: reset (accounts.mfa.mfa_reset)."""
        from django.core.exceptions import PermissionDenied
        from django.shortcuts import get_object_or_404

        user = get_object_or_404(User.objects.select_related("organization"), pk=object_id)
        if not self.may_reset_second_factors(request, user):
            raise PermissionDenied
        return self._mfa_reset_confirm(request, [user], single=True)

    @admin.action(description="Reset second factors (MFA) of the selected users", permissions=["reset_second_factors"])
    def reset_second_factors(self, request, queryset):
        users = list(queryset.select_related("organization").exclude(pk=request.user.pk))
        if not users:
            self.message_user(request, "Reset your own second factors on your account page.", messages.WARNING)
            return None
        return self._mfa_reset_confirm(request, users, single=False)

    def _mfa_reset_confirm(self, request, users, *, single: bool):
        from django.http import HttpResponseRedirect
        from django.template.response import TemplateResponse
        from django.urls import reverse

        from accounts import mfa

        if request.method == "POST" and request.POST.get("confirm") == "yes":
            for user in users:
                mfa.mfa_reset(user=user, by=request.user)
            names = ", ".join(user.email for user in users)
            self.message_user(
                request,
                f"Second factors reset for {names}: their sessions were signed out; "
                "where MFA is required they set it up again at the next sign-in.",
                messages.SUCCESS,
            )
            target = "change" if single else "changelist"
            args = [users[0].pk] if single else []
            return HttpResponseRedirect(
                reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_{target}", args=args)
            )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Reset second factors",
            "rows": [{"user": user, "factors": self.second_factors(user)} for user in users],
            "single": single,
            "original": users[0] if single else None,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/accounts/user/mfa_reset.html", context)

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
