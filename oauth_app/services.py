"""OAuth connections: CRUD, authorization code with PKCE, client credentials, refresh (DESIGN §8).

Token requests never run inside a transaction that other requests wait on, except refreshes:
a refresh locks its connection row (SELECT ... FOR UPDATE) around the provider call so that the
beat task and a workflow never spend the same refresh token twice.
"""

from __future__ import annotations

import datetime
import hashlib
import secrets
import uuid
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

import audit
from audit.services import diff
from bifrost_site.api.errors import ApplicationError, ConflictError
from notifications.services import notify_event
from oauth_app import client
from oauth_app.client import OAuthProviderError
from oauth_app.models import (
    ConnectionStatus,
    FlowType,
    OAuthConnection,
    OAuthRefreshRun,
    OAuthState,
    OAuthToken,
)
from oauth_app.selectors import connection_for_name, connection_token

STATE_TTL = datetime.timedelta(minutes=10)
STATE_RETENTION = datetime.timedelta(days=1)
REFRESH_WINDOW = datetime.timedelta(minutes=30)  # the beat task refreshes tokens expiring within this
WORKFLOW_REFRESH_WINDOW = datetime.timedelta(minutes=5)  # a workflow gets a token valid at least this long
AUDITED_FIELDS = [
    "name",
    "description",
    "organization_id",
    "flow_type",
    "client_id",
    "authorization_url",
    "token_url",
    "scopes",
    "extra_token_params",
    "status",
]
CREDENTIAL_FIELDS = {"client_id", "client_secret", "token_url", "scopes", "extra_token_params"}


class ConnectionNotFound(LookupError):
    """No OAuth connection of that name in the organization or GLOBAL."""


class ConnectionNotReady(RuntimeError):
    """The connection has no usable token (never connected, or refresh failed and the token expired)."""


class ProviderRequestFailed(ApplicationError):
    status_code = 502
    default_code = "provider_error"
    default_detail = "The OAuth provider refused or failed the request."


class CallbackRefused(Exception):
    """The browser's callback cannot be accepted; `message` says why (shown on the page)."""

    def __init__(self, message: str, *, status: int = 400, connection: OAuthConnection | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.connection = connection


def hash_state(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def _snapshot(connection: OAuthConnection) -> dict:
    data = {}
    for name in AUDITED_FIELDS:
        value = getattr(connection, name)
        data[name] = str(value) if isinstance(value, uuid.UUID) else value
    return data


def _audit(action: str, connection: OAuthConnection, changes: dict | None = None, actor=None) -> None:
    audit.record(
        action=f"oauth_connection.{action}",
        resource_type="oauth_connection",
        resource_id=connection.id,
        organization=connection.organization_id,
        changes=changes or {},
        actor=actor,
    )


def _client_config(connection: OAuthConnection) -> client.ClientConfig:
    from bifrost_site.crypto import UndecryptableValue
    from secrets_app.selectors import SecretNotFound, SecretUndecryptable, secret_value

    if isinstance(connection.client_secret, UndecryptableValue):
        raise OAuthProviderError(
            f"The client secret of OAuth connection '{connection.name}' (id {connection.id}) cannot be decrypted "
            "with the configured ENCRYPTION_KEYS; set it again."
        )
    extra = {}
    for key, value in (connection.extra_token_params or {}).items():
        if isinstance(value, dict) and "secret_ref" in value:
            try:
                extra[key] = secret_value(organization_id=connection.organization_id, name=value["secret_ref"])
            except (SecretNotFound, SecretUndecryptable) as exc:
                raise OAuthProviderError(f"extra_token_params.{key}: {exc}") from exc
        else:
            extra[key] = value if isinstance(value, str) else str(value)
    return client.ClientConfig(
        client_id=connection.client_id,
        client_secret=connection.client_secret or None,
        token_url=connection.token_url,
        scopes=list(connection.scopes or []),
        extra_params=extra,
    )


def _expires_at(token: dict) -> datetime.datetime | None:
    if token.get("expires_at"):
        return datetime.datetime.fromtimestamp(int(token["expires_at"]), tz=datetime.UTC)
    if token.get("expires_in"):
        return timezone.now() + datetime.timedelta(seconds=int(token["expires_in"]))
    return None


def _store_token(connection: OAuthConnection, token: dict, *, keep_refresh_token: str | None = None) -> OAuthToken:
    scope = token.get("scope")
    scopes = scope.split() if isinstance(scope, str) else (list(scope) if scope else list(connection.scopes or []))
    refresh_token = token.get("refresh_token") or keep_refresh_token
    stored, _ = OAuthToken.objects.update_or_create(
        connection=connection,
        defaults={
            "access_token": token["access_token"],
            "refresh_token": refresh_token or None,
            "token_type": (token.get("token_type") or "Bearer")[:40],
            "expires_at": _expires_at(token),
            "scopes": scopes,
        },
    )
    connection.token = stored
    return stored


def _set_status(connection: OAuthConnection, status: str, message: str = "", *, refreshed: bool = False) -> None:
    connection.status = status
    connection.status_message = message[:2000]
    fields = ["status", "status_message", "updated_at"]
    if refreshed:
        connection.last_refresh_at = timezone.now()
        fields.append("last_refresh_at")
    connection.save(update_fields=fields)


# --- CRUD ---------------------------------------------------------------------------------


def connection_create(*, organization, created_by=None, **data) -> OAuthConnection:
    """Create a connection; a client-credentials connection fetches its first token right away
    (a provider failure leaves the connection `failed` with the provider's message)."""
    connection = _connection_create(organization=organization, created_by=created_by, **data)
    if connection.flow_type == FlowType.CLIENT_CREDENTIALS:
        try:
            connection_refresh(connection=connection)
        except ProviderRequestFailed:
            pass
        connection.refresh_from_db()
    return connection


@transaction.atomic
def _connection_create(*, organization, created_by=None, **data) -> OAuthConnection:
    org_id = getattr(organization, "pk", organization)
    name = data["name"]
    if OAuthConnection.objects.filter(organization_id=org_id, name=name).exists():
        scope = "this organization" if org_id else "GLOBAL scope"
        raise ConflictError(f"An OAuth connection named '{name}' already exists in {scope}.", details={"name": name})
    connection = OAuthConnection(organization_id=org_id, created_by=created_by, **data)
    connection.full_clean()
    connection.save()
    _audit(
        "create",
        connection,
        diff(None, _snapshot(connection)) | {"client_auth_changed": bool(data.get("client_secret"))},
    )
    return connection


def connection_update(*, connection: OAuthConnection, **data) -> OAuthConnection:
    """Change a connection. For client credentials a change of credentials, token URL, scopes or
    parameters fetches a new token; an authorization-code connection keeps its token until it is
    authorized again."""
    changed = _connection_update(connection=connection, **data)
    if connection.flow_type == FlowType.CLIENT_CREDENTIALS and changed & CREDENTIAL_FIELDS:
        try:
            connection_refresh(connection=connection)
        except ProviderRequestFailed:
            pass
        connection.refresh_from_db()
    return connection


@transaction.atomic
def _connection_update(*, connection: OAuthConnection, **data) -> set[str]:
    before = _snapshot(connection)
    changed = set()
    for key, value in data.items():
        if key == "client_secret":
            if value:
                connection.client_secret = value
                changed.add(key)
            continue
        if getattr(connection, key) != value:
            setattr(connection, key, value)
            changed.add(key)
    connection.full_clean()
    connection.save()
    _audit(
        "update",
        connection,
        diff(before, _snapshot(connection)) | {"client_auth_changed": "client_secret" in changed},
    )
    return changed


@transaction.atomic
def connection_delete(*, connection: OAuthConnection) -> None:
    snapshot = _snapshot(connection)
    connection_id, org_id = connection.id, connection.organization_id
    connection.delete()
    audit.record(
        action="oauth_connection.delete",
        resource_type="oauth_connection",
        resource_id=connection_id,
        organization=org_id,
        changes=diff(snapshot, None),
    )


# --- authorization code -------------------------------------------------------------------


@transaction.atomic
def connection_authorize(*, connection: OAuthConnection, requested_by, redirect_uri: str) -> str:
    """Start the authorization-code flow: a single-use, expiring state bound to the connection,
    its organization and the admin, and a PKCE (S256) verifier kept encrypted. Returns the
    provider URL the browser must open."""
    if connection.flow_type != FlowType.AUTHORIZATION_CODE:
        raise ApplicationError(
            f"OAuth connection '{connection.name}' uses the client credentials flow; refresh it instead.",
            details={"flow_type": connection.flow_type},
        )
    if not connection.authorization_url:
        raise ApplicationError("This connection has no authorization_url.", details={"authorization_url": "missing"})
    state = secrets.token_urlsafe(32)
    verifier = client.new_code_verifier()
    OAuthState.objects.create(
        state_hash=hash_state(state),
        connection=connection,
        organization_id=connection.organization_id,
        requested_by=requested_by if getattr(requested_by, "is_authenticated", False) else None,
        code_verifier=verifier,
        redirect_uri=redirect_uri,
        expires_at=timezone.now() + STATE_TTL,
    )
    url = client.authorization_url(
        _client_config(connection),
        authorize_endpoint=connection.authorization_url,
        redirect_uri=redirect_uri,
        state=state,
        code_verifier=verifier,
    )
    _set_status(connection, ConnectionStatus.WAITING_CALLBACK, "Waiting for the provider to redirect back.")
    _audit("authorize", connection)
    return url


def _consume_state(state: str) -> OAuthState:
    """Mark the state used (exactly once, committed even when refused) and return it; refuse
    unknown, used, expired or mismatched states."""
    if not state:
        raise CallbackRefused("The provider's answer has no state parameter.")
    problem = None
    with transaction.atomic():
        row = (
            OAuthState.objects.select_for_update(of=("self",))
            .select_related("connection", "requested_by")
            .filter(state_hash=hash_state(state))
            .first()
        )
        if row is None:
            raise CallbackRefused(
                "Unknown state: this link was not issued by Bifrost or was altered. Start the connection again."
            )
        if row.used_at is not None:
            raise CallbackRefused("This authorization was already used. Start the connection again.")
        row.used_at = timezone.now()
        row.save(update_fields=["used_at", "updated_at"])
        if row.expires_at <= timezone.now():
            problem = "This authorization expired (it is valid for 10 minutes). Start the connection again."
        elif row.organization_id != row.connection.organization_id:
            problem = "The state does not belong to this connection's organization."
    if problem:
        raise CallbackRefused(problem, connection=row.connection)
    return row


def oauth_callback_complete(*, state: str, code: str | None, error: str | None, error_description: str | None):
    """Handle the browser's return from the provider. Returns the connected connection or raises
    CallbackRefused with the reason (the connection, if known, is set `failed` for provider errors)."""
    row = _consume_state(state)
    connection = row.connection
    actor = row.requested_by
    if error:
        message = client.provider_error_message(error, error_description)
        _set_status(connection, ConnectionStatus.FAILED, f"The provider refused the authorization: {message}")
        _audit("callback_failed", connection, {"error": message}, actor=actor)
        raise CallbackRefused(f"The provider refused the authorization: {message}", connection=connection)
    if not code:
        raise CallbackRefused("The provider's answer has no authorization code.", connection=connection)
    try:
        token = client.exchange_code(
            _client_config(connection), code=code, code_verifier=row.code_verifier, redirect_uri=row.redirect_uri
        )
    except OAuthProviderError as exc:
        _set_status(connection, ConnectionStatus.FAILED, exc.message)
        _audit("callback_failed", connection, {"error": exc.message}, actor=actor)
        raise CallbackRefused(f"The code exchange failed: {exc.message}", status=502, connection=connection) from exc
    with transaction.atomic():
        _store_token(connection, token)
        _set_status(connection, ConnectionStatus.COMPLETED, "", refreshed=True)
        _audit("connect", connection, actor=actor)
    return connection


# --- refresh ------------------------------------------------------------------------------


@dataclass
class _Outcome:
    error: OAuthProviderError | None = None


def connection_refresh(*, connection: OAuthConnection, only_if_expiring_within: datetime.timedelta | None = None):
    """Get a new token now: client credentials fetch one, authorization code uses the refresh
    token (kept when the provider returns none). Failure sets `failed` with the provider's
    message and raises ProviderRequestFailed.

    `only_if_expiring_within`: skip when, once the row is locked, the token is valid for longer
    (another process refreshed it meanwhile)."""
    if (
        connection.flow_type == FlowType.AUTHORIZATION_CODE
        and not OAuthToken.objects.filter(connection_id=connection.pk).exists()
    ):
        raise ApplicationError(
            f"OAuth connection '{connection.name}' was never authorized; authorize it first.",
            details={"status": connection.status},
        )
    outcome = _Outcome()
    with transaction.atomic():
        locked = OAuthConnection.objects.select_for_update(of=("self",)).get(pk=connection.pk)
        current = OAuthToken.objects.filter(connection=locked).first()
        if (
            only_if_expiring_within is not None
            and current is not None
            and locked.status == ConnectionStatus.COMPLETED
            and (current.expires_at is None or current.expires_at > timezone.now() + only_if_expiring_within)
        ):
            connection.refresh_from_db()
            return connection
        try:
            config = _client_config(locked)
            if locked.flow_type == FlowType.CLIENT_CREDENTIALS:
                token = client.client_credentials(config)
                _store_token(locked, token)
            else:
                refresh_token = current.refresh_token if current is not None else None
                if not refresh_token:
                    raise OAuthProviderError("There is no refresh token; authorize the connection again.")
                from bifrost_site.crypto import UndecryptableValue

                if isinstance(refresh_token, UndecryptableValue):
                    raise OAuthProviderError(
                        f"The refresh token of OAuth connection '{locked.name}' cannot be decrypted with the "
                        "configured ENCRYPTION_KEYS; authorize the connection again."
                    )
                token = client.refresh(config, refresh_token=refresh_token)
                _store_token(locked, token, keep_refresh_token=refresh_token)
            _set_status(locked, ConnectionStatus.COMPLETED, "", refreshed=True)
            _audit("refresh", locked)
        except OAuthProviderError as exc:
            outcome.error = exc
            _set_status(locked, ConnectionStatus.FAILED, exc.message, refreshed=True)
            _audit("refresh_failed", locked, {"error": exc.message})
            notify_event(
                event="oauth.refresh_failed",
                organization_id=locked.organization_id,
                title=f"OAuth connection '{locked.name}' could not be refreshed",
                detail=exc.message,
            )
    connection.refresh_from_db()
    if outcome.error is not None:
        raise ProviderRequestFailed(
            f"Refreshing OAuth connection '{connection.name}' failed: {outcome.error.message}",
            details={"status": connection.status, "status_message": connection.status_message},
        )
    return connection


def refresh_expiring_tokens(*, window: datetime.timedelta = REFRESH_WINDOW) -> OAuthRefreshRun:
    """The beat task's work: refresh every `completed` connection (GLOBAL and every organization)
    whose token expires within `window`; record the run's counts. Also deletes authorization
    states that expired more than a day ago."""
    run = OAuthRefreshRun.objects.create(started_at=timezone.now())
    # Housekeeping: authorization states are useless once expired; keep a day for inspection.
    OAuthState.objects.filter(expires_at__lt=timezone.now() - STATE_RETENTION).delete()
    completed = OAuthConnection.objects.filter(status=ConnectionStatus.COMPLETED, token__isnull=False)
    deadline = timezone.now() + window
    due = list(
        completed.filter(token__expires_at__isnull=False, token__expires_at__lte=deadline)
        .order_by("organization_id", "name")
        .only("id", "name", "organization_id")
    )
    run.checked = completed.count()
    details = []
    for connection in due:
        entry = {
            "connection_id": str(connection.id),
            "name": connection.name,
            "organization_id": str(connection.organization_id) if connection.organization_id else None,
        }
        try:
            connection_refresh(connection=connection, only_if_expiring_within=window)
            run.refreshed += 1
            entry["result"] = "refreshed"
        except ProviderRequestFailed:
            connection.refresh_from_db(fields=["status_message"])
            run.failed += 1
            entry["result"] = "failed"
            entry["error"] = connection.status_message
        details.append(entry)
    run.details = details
    run.completed_at = timezone.now()
    run.save()
    return run


# --- for workflows ------------------------------------------------------------------------


def _resolve(organization_id, name) -> OAuthConnection:
    connection = connection_for_name(organization_id=organization_id, name=name)
    if connection is None:
        where = f"organization {organization_id} or GLOBAL" if organization_id else "GLOBAL scope"
        raise ConnectionNotFound(f"OAuth connection '{name}' was not found in {where}.")
    return connection


def oauth_token_for_workflow(*, organization_id, name: str) -> dict:
    """A usable token for a workflow: the organization's connection, else the GLOBAL one,
    refreshed first when it expires within 5 minutes.

    Returns {"access_token", "token_type", "expires_at" (ISO 8601 or None), "scopes"}.
    Raises ConnectionNotFound or ConnectionNotReady (never connected, or expired and the refresh failed).
    """
    from bifrost_site.crypto import UndecryptableValue

    connection = _resolve(organization_id, name)
    token = connection_token(connection)
    if token is None:
        raise ConnectionNotReady(
            f"OAuth connection '{name}' has no token yet (status: {connection.status}"
            + (f": {connection.status_message}" if connection.status_message else "")
            + "). Authorize or refresh it in Bifrost."
        )
    now = timezone.now()
    if token.expires_at is not None and token.expires_at <= now + WORKFLOW_REFRESH_WINDOW:
        refresh_error = None
        try:
            connection_refresh(connection=connection, only_if_expiring_within=WORKFLOW_REFRESH_WINDOW)
        except ProviderRequestFailed as exc:
            refresh_error = str(exc.detail)
        token = OAuthToken.objects.get(connection=connection)
        if token.expires_at is not None and token.expires_at <= timezone.now():
            raise ConnectionNotReady(
                f"OAuth connection '{name}' has an expired token and could not be refreshed: "
                f"{refresh_error or connection.status_message}"
            )
    if isinstance(token.access_token, UndecryptableValue):
        raise ConnectionNotReady(
            f"The access token of OAuth connection '{name}' (id {connection.id}) cannot be decrypted with the "
            "configured ENCRYPTION_KEYS; refresh or authorize the connection again."
        )
    return {
        "access_token": str(token.access_token),
        "token_type": token.token_type,
        "expires_at": token.expires_at.isoformat() if token.expires_at else None,
        "scopes": list(token.scopes or []),
    }
