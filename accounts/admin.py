from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from accounts import services
from accounts.models import Role, User, UserRole
from audit.admin_mixins import AuditedAdminMixin


class UserRoleInline(admin.TabularInline):
    model = UserRole
    fk_name = "user"
    extra = 0
    autocomplete_fields = ["role"]
    readonly_fields = ["assigned_by", "assigned_at"]


class RoleUserInline(UserRoleInline):
    fk_name = "role"
    autocomplete_fields = ["user"]


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
class UserAdmin(AuditedAdminMixin, DjangoUserAdmin):
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
class RoleAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ["name", "organization", "is_active", "created_at"]
    list_filter = ["is_active", ("organization", admin.EmptyFieldListFilter), "organization"]
    search_fields = ["name", "description", "organization__name"]
    audit_fields = ["name", "description", "organization", "is_active"]
    list_select_related = ["organization"]
    autocomplete_fields = ["organization"]
    inlines = [RoleUserInline]
