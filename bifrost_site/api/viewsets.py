"""The shared API base: every viewset resolves the request scope and narrows its queryset here.

This is the tenancy choke point of DESIGN §4. Views never filter by organization by hand:
`get_queryset()` applies `for_scope()` (or the viewset's `scoped_queryset()` selector), so an
object of another organization is simply not found (404).
"""

from django.db.models import F
from django.http import Http404
from rest_framework import exceptions, mixins, viewsets
from rest_framework.views import APIView

from bifrost_site.models import OWNED
from bifrost_site.scope import ORG_HEADER, resolve_scope


class ScopedAPIMixin:
    """Resolves `request.scope` once authentication and permission checks have passed."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        request.scope = None
        if request.user and request.user.is_authenticated:
            context = getattr(request, "bifrost_context", None)  # DRF's Request reads through to the HttpRequest
            if context is not None:
                context.actor = request.user
            request.scope = resolve_scope(request.user, request.headers.get(ORG_HEADER))

    @property
    def scope(self):
        return getattr(self.request, "scope", None)


class BifrostAPIView(ScopedAPIMixin, APIView):
    pass


class BifrostGenericViewSet(ScopedAPIMixin, viewsets.GenericViewSet):
    """Base for every resource viewset.

    Subclasses set `queryset` (a model with an OrgScopedQuerySet) or override `scoped_queryset()`
    to call an app selector that starts from `for_scope()`.
    """

    def scoped_queryset(self, queryset):
        return queryset.for_scope(self.scope)

    def get_queryset(self):
        return self.scoped_queryset(super().get_queryset())

    def get_object(self):
        """Look the object up in scope; when both an org row and a GLOBAL row match (lookup by
        key or name), the organization's row wins. Writes to a row owned by another scope are 403."""
        queryset = self.filter_queryset(self.get_queryset())
        lookup_url_kwarg = self.lookup_url_kwarg or self.lookup_field
        filter_kwargs = {self.lookup_field: self.kwargs[lookup_url_kwarg]}
        try:
            matches = queryset.filter(**filter_kwargs)
            if _is_owned(queryset.model):
                matches = matches.order_by(F("organization").asc(nulls_last=True))
            obj = matches.first()
        except (TypeError, ValueError, exceptions.ValidationError):
            obj = None
        except Exception as exc:  # a malformed id (e.g. not a UUID) is simply not found
            from django.core.exceptions import ValidationError

            if isinstance(exc, ValidationError):
                obj = None
            else:
                raise
        if obj is None:
            raise Http404(f"{queryset.model._meta.verbose_name.capitalize()} not found.")
        self.check_object_permissions(self.request, obj)
        if self.request.method not in ("GET", "HEAD", "OPTIONS") and getattr(self, "enforce_owned_writes", True):
            self.ensure_writable(obj)
        return obj

    def ensure_writable(self, obj) -> None:
        if not _is_owned(type(obj)) or self.scope is None:
            return
        if obj.organization_id != self.scope.organization_id:
            name = type(obj)._meta.verbose_name
            if obj.organization_id is None:
                raise exceptions.PermissionDenied(
                    f"This {name} is GLOBAL; switch to GLOBAL scope (send no {ORG_HEADER} header) to change it."
                )
            raise exceptions.PermissionDenied(f"This {name} belongs to another scope.")

    @property
    def scope_organization(self):
        return self.scope.organization if self.scope is not None else None


class BifrostViewSet(
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    mixins.ListModelMixin,
    BifrostGenericViewSet,
):
    """CRUD over a scoped queryset. Subclasses route writes through services in perform_*."""


class BifrostReadOnlyViewSet(mixins.RetrieveModelMixin, mixins.ListModelMixin, BifrostGenericViewSet):
    pass


def _is_owned(model) -> bool:
    return getattr(model, "scope_mode", None) == OWNED and any(f.name == "organization" for f in model._meta.fields)
