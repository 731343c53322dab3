"""Reads of OAuth connections."""

from __future__ import annotations

from django.db.models import F, Q

from oauth_app.models import OAuthConnection, OAuthRefreshRun


def connection_for_name(*, organization_id, name: str) -> OAuthConnection | None:
    """The connection that applies in a scope: the organization's, else the GLOBAL one."""
    condition = Q(organization__isnull=True)
    if organization_id:
        condition |= Q(organization_id=organization_id)
    return (
        OAuthConnection.objects.filter(condition, name=name)
        .select_related("token")
        .order_by(F("organization").asc(nulls_last=True))
        .first()
    )


def connection_token(connection: OAuthConnection):
    """The connection's current token or None (no query when select_related('token') was used)."""
    try:
        return connection.token
    except OAuthConnection.token.RelatedObjectDoesNotExist:
        return None


def last_refresh_run() -> OAuthRefreshRun | None:
    return OAuthRefreshRun.objects.order_by("-started_at").first()
