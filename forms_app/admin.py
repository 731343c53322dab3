from django.contrib import admin

from forms_app.models import Form, FormRole, FormUpload


class FormRoleInline(admin.TabularInline):
    model = FormRole
    extra = 0
    autocomplete_fields = ["role"]
    readonly_fields = ["assigned_by", "assigned_at"]


@admin.register(Form)
class FormAdmin(admin.ModelAdmin):
    list_display = ["name", "workflow", "organization", "access_level", "is_active", "updated_at"]
    list_filter = ["access_level", "is_active", "organization"]
    search_fields = ["name", "description", "workflow"]
    list_select_related = ["organization"]
    autocomplete_fields = ["organization"]
    inlines = [FormRoleInline]


@admin.register(FormUpload)
class FormUploadAdmin(admin.ModelAdmin):
    list_display = ["original_name", "form", "organization", "content_type", "size", "created_at"]
    list_filter = ["organization"]
    search_fields = ["original_name"]
    readonly_fields = [
        "form",
        "organization",
        "field_name",
        "file",
        "original_name",
        "content_type",
        "size",
        "uploaded_by",
    ]
