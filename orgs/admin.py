from django.contrib import admin

from accounts.models import User
from orgs.models import Config, Organization


class OrganizationUserInline(admin.TabularInline):
    model = User
    fields = ["email", "name", "is_active", "last_login"]
    readonly_fields = ["email", "name", "is_active", "last_login"]
    extra = 0
    can_delete = False
    show_change_link = True


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "domain", "is_active", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "domain"]
    inlines = [OrganizationUserInline]


@admin.register(Config)
class ConfigAdmin(admin.ModelAdmin):
    list_display = ["key", "config_type", "organization", "updated_by", "updated_at"]
    list_filter = ["config_type", "organization"]
    search_fields = ["key", "description"]
    list_select_related = ["organization", "updated_by"]
    autocomplete_fields = ["organization"]
    readonly_fields = ["updated_by", "created_at", "updated_at"]
