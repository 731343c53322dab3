"""Admin-site changes go through the same audit trail as the API."""

from __future__ import annotations

from audit.services import snapshot


class AuditedAdminMixin:
    """Mix into a ModelAdmin: every save and delete done on the admin site records
    `<resource>.create|update|delete` with a before/after diff (secrets redacted by audit.record).

    `audit_resource_type` defaults to the model name; `audit_fields` limits the snapshot;
    `audit_secret_fields` names extra fields to redact."""

    audit_resource_type: str | None = None
    audit_fields: list[str] | None = None
    audit_secret_fields: frozenset[str] = frozenset()
    audit_reveal_fields: frozenset[str] = frozenset()

    def _audit_type(self) -> str:
        return self.audit_resource_type or self.model._meta.model_name

    def _audit_snapshot(self, obj) -> dict:
        fields = self.audit_fields
        return snapshot(obj, fields)

    def _audit_organization(self, obj):
        if self.model._meta.model_name == "organization":
            return obj.pk
        return getattr(obj, "organization_id", None)

    def _audit_reveal(self, obj) -> frozenset[str]:
        return self.audit_reveal_fields

    def _audit(self, request, obj, action: str, before: dict | None, after: dict | None) -> None:
        import audit
        from audit.services import diff

        changes = diff(before, after)
        if action.endswith(".update") and not (changes["before"] or changes["after"]):
            return
        changes["via"] = "admin"
        audit.record(
            action=action,
            resource_type=self._audit_type(),
            resource_id=obj.pk,
            actor=request.user,
            organization=self._audit_organization(obj),
            changes=changes,
            secret_fields=self.audit_secret_fields,
            reveal_fields=self._audit_reveal(obj),
        )

    def save_model(self, request, obj, form, change):
        before = None
        if change and obj.pk is not None:
            original = type(obj)._default_manager.filter(pk=obj.pk).first()
            before = self._audit_snapshot(original) if original is not None else None
        super().save_model(request, obj, form, change)
        action = "update" if change else "create"
        self._audit(request, obj, f"{self._audit_type()}.{action}", before, self._audit_snapshot(obj))

    def delete_model(self, request, obj):
        before = self._audit_snapshot(obj)
        pk = obj.pk
        super().delete_model(request, obj)
        obj.pk = pk
        self._audit(request, obj, f"{self._audit_type()}.delete", before, None)

    def save_formset(self, request, form, formset, change):
        """Inline rows (memberships and the like) added, changed or removed on this object's page."""
        super().save_formset(request, form, formset, change)
        added = [str(o) for o in getattr(formset, "new_objects", [])]
        removed = [str(o) for o in getattr(formset, "deleted_objects", [])]
        changed = [str(o) for o, _fields in getattr(formset, "changed_objects", [])]
        if not (added or removed or changed):
            return
        import audit

        label = formset.model._meta.model_name
        audit.record(
            action=f"{self._audit_type()}.update",
            resource_type=self._audit_type(),
            resource_id=form.instance.pk,
            actor=request.user,
            organization=self._audit_organization(form.instance),
            changes={
                "before": {f"{label}_removed": removed} if removed else {},
                "after": {k: v for k, v in ((f"{label}_added", added), (f"{label}_changed", changed)) if v},
                "via": "admin",
            },
        )

    def delete_queryset(self, request, queryset):
        for obj in list(queryset):
            self.delete_model(request, obj)
