"""Reads. `forms_visible_to` is the one rule for who may see and use a form (DESIGN §4)."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet

from accounts.models import Role, UserRole
from forms_app.models import AccessLevel, Form, FormRole, FormUpload


def forms_visible_to(scope) -> QuerySet[Form]:
    """Forms a caller may see and use.

    - `scope is None` (anonymous, or a public-form path that ignores the dev bypass): active
      `public` forms of any organization.
    - platform admins: every form of their scope (org + GLOBAL, or GLOBAL), active or not.
    - ORG users: active forms of their organization and active GLOBAL forms whose access level
      is `public`/`authenticated`, or `role_based` with an active role of theirs assigned.
    """
    forms = Form.objects.all()
    if scope is None:
        return forms.filter(is_active=True, access_level=AccessLevel.PUBLIC)
    scoped = forms.for_scope(scope)
    if scope.is_platform_admin:
        return scoped
    held_role = FormRole.objects.filter(
        form=OuterRef("pk"),
        role__is_active=True,
        role__in=UserRole.objects.filter(user_id=scope.user.pk).values("role_id"),
    )
    return scoped.filter(is_active=True).filter(
        Q(access_level__in=[AccessLevel.PUBLIC, AccessLevel.AUTHENTICATED])
        | Q(Exists(held_role), access_level=AccessLevel.ROLE_BASED)
    )


def form_list(scope) -> QuerySet[Form]:
    return (
        forms_visible_to(scope)
        .select_related("organization", "created_by")
        .prefetch_related(
            Prefetch("form_roles", queryset=FormRole.objects.select_related("role")),
            Prefetch("approver_roles", queryset=Role.objects.only("id")),
        )
        .order_by("name", "id")
    )


def form_detail(*, form_id) -> Form:
    """A form as the API presents it after a write (its creator and role ids loaded)."""
    return (
        Form.objects.select_related("created_by")
        .prefetch_related(
            Prefetch("form_roles", queryset=FormRole.objects.only("id", "form_id", "role_id")),
            Prefetch("approver_roles", queryset=Role.objects.only("id")),
        )
        .get(id=form_id)
    )


def roles_assignable_to(form: Form, scope) -> QuerySet[Role]:
    """Roles visible in the form's scope (and in the caller's): an org form takes its
    organization's roles and GLOBAL roles; a GLOBAL form takes GLOBAL roles."""
    roles = Role.objects.for_scope(scope)
    if form.organization_id is None:
        return roles.filter(organization__isnull=True)
    return roles.filter(Q(organization_id=form.organization_id) | Q(organization__isnull=True))


def form_roles(form: Form) -> QuerySet[FormRole]:
    return FormRole.objects.filter(form=form).select_related("role").order_by("role__name")


def form_upload_get(*, form: Form, upload_id, user) -> FormUpload | None:
    try:
        qs = FormUpload.objects.filter(form=form, id=upload_id)
        if user is not None and user.is_authenticated:
            qs = qs.filter(uploaded_by=user)
        else:
            qs = qs.filter(uploaded_by__isnull=True)
        return qs.first()
    except (ValueError, TypeError):
        return None
    except Exception as exc:
        from django.core.exceptions import ValidationError

        if isinstance(exc, ValidationError):
            return None
        raise


def form_field(form: Form, name: str) -> dict | None:
    for item in (form.schema or {}).get("fields", []):
        if isinstance(item, dict) and item.get("name") == name:
            return item
    return None
