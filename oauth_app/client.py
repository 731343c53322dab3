"""Token requests to OAuth 2 providers, through Authlib's requests client (DESIGN §8).

Every token request times out after 10 s and is retried up to 3 times (small exponential
backoff) on a 5xx answer or a network error, never on a 4xx answer. Retries are done by
urllib3's Retry on the session's HTTP adapter, so Authlib still builds and parses every request.

A token request follows no redirect: a 3xx answer is a failure, so the client secret, the code and
the refresh token are only ever sent to the configured token URL. Of a provider's error answer only
the RFC 6749 `error` and `error_description` fields are kept (truncated, control characters removed):
the message lands in the connection's `status_message`, the API's error and the audit log, and a
provider's full error body (stack traces, echoed request data) has no place in any of them.

Authlib is imported by the functions that talk to a provider, not with this module: every web process
imports this module with the URLconf (a worker with a workflow's first OAuth call), and most of them
never request a token (docs/performance.md, Memory).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

if TYPE_CHECKING:
    from authlib.integrations.requests_client import OAuth2Session

TOKEN_TIMEOUT_SECONDS = 10
TOKEN_RETRIES = 3
RETRY_BACKOFF_FACTOR = 0.2
AUTH_METHOD = "client_secret_post"
ERROR_CODE_MAX_CHARS = 100  # RFC 6749 `error`: a short ASCII code
ERROR_DESCRIPTION_MAX_CHARS = 200


class OAuthProviderError(Exception):
    """The provider refused or failed a token request; `message` is what it said."""

    def __init__(self, message: str, *, status_code: int | None = None, error: str = ""):
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.error = error


@dataclass
class ClientConfig:
    client_id: str
    client_secret: str | None
    token_url: str
    scopes: list[str]
    extra_params: dict


def _retry() -> Retry:
    return Retry(
        total=TOKEN_RETRIES,
        connect=TOKEN_RETRIES,
        read=TOKEN_RETRIES,
        status=TOKEN_RETRIES,
        other=0,
        allowed_methods=None,  # token requests are POSTs; retry them too
        status_forcelist=list(range(500, 600)),
        backoff_factor=RETRY_BACKOFF_FACTOR,
        respect_retry_after_header=False,
        raise_on_status=False,
    )


def _one_line(text, limit: int) -> str:
    """`text` as one printable line of at most `limit` characters (an ellipsis marks a cut)."""
    line = " ".join("".join(ch if ch.isprintable() else " " for ch in str(text)).split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def provider_error_message(error, description=None) -> str:
    """The RFC 6749 error fields of a provider's answer, as one short line: `error: description`."""
    code = _one_line(error or "", ERROR_CODE_MAX_CHARS) or "error"
    text = _one_line(description or "", ERROR_DESCRIPTION_MAX_CHARS)
    return f"{code}: {text}" if text else code


def _error_fields(response) -> str:
    """`error: description` from a JSON error body, or "" when the body has no RFC 6749 error."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if not isinstance(body, dict) or not isinstance(body.get("error"), str):
        return ""
    description = body.get("error_description")
    return provider_error_message(body["error"], description if isinstance(description, str) else None)


def _refuse_redirects(response, *args, **kwargs):
    """A response hook: a token request never follows a redirect (it would re-send the client secret
    and the grant to wherever the provider, or whoever answers for it, points)."""
    if 300 <= response.status_code < 400:
        raise OAuthProviderError(
            f"The token endpoint answered HTTP {response.status_code} (a redirect). Token requests do not follow "
            "redirects, so the credentials were not sent on; set the connection's token URL to the provider's "
            "final token endpoint.",
            status_code=response.status_code,
        )
    return response


def session_for(config: ClientConfig, *, redirect_uri: str | None = None) -> OAuth2Session:
    from authlib.integrations.requests_client import OAuth2Session

    session = OAuth2Session(
        client_id=config.client_id,
        client_secret=config.client_secret or None,
        scope=" ".join(config.scopes) or None,
        redirect_uri=redirect_uri,
        token_endpoint_auth_method=AUTH_METHOD if config.client_secret else "none",
        code_challenge_method="S256",
    )
    adapter = HTTPAdapter(max_retries=_retry())
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.max_redirects = 0
    session.hooks["response"].append(_refuse_redirects)
    return session


def new_code_verifier() -> str:
    from authlib.common.security import generate_token

    return generate_token(64)


def authorization_url(
    config: ClientConfig, *, authorize_endpoint: str, redirect_uri: str, state: str, code_verifier: str
) -> str:
    session = session_for(config, redirect_uri=redirect_uri)
    url, _ = session.create_authorization_url(authorize_endpoint, state=state, code_verifier=code_verifier)
    return url


def _call(fn, *args, **kwargs) -> dict:
    from authlib.integrations.base_client.errors import OAuthError

    try:
        token = fn(*args, timeout=TOKEN_TIMEOUT_SECONDS, **kwargs)
    except OAuthError as exc:
        message = provider_error_message(exc.error, exc.description)
        raise OAuthProviderError(message, error=_one_line(exc.error or "", ERROR_CODE_MAX_CHARS)) from exc
    except requests.HTTPError as exc:
        response = exc.response
        code = response.status_code if response is not None else None
        fields = _error_fields(response) if response is not None else ""
        message = f"The token endpoint answered HTTP {code}" + (f": {fields}" if fields else "")
        if code is not None and code >= 500:
            message += f" (after {TOKEN_RETRIES} retries)"
        raise OAuthProviderError(message, status_code=code) from exc
    except requests.Timeout as exc:
        raise OAuthProviderError(
            f"The token endpoint did not answer within {TOKEN_TIMEOUT_SECONDS} s (after {TOKEN_RETRIES} retries)."
        ) from exc
    except requests.RequestException as exc:
        raise OAuthProviderError(
            f"Could not reach the token endpoint (after {TOKEN_RETRIES} retries): {type(exc).__name__}"
        ) from exc
    except ValueError as exc:  # a 2xx/4xx answer that is not a JSON object
        raise OAuthProviderError(f"The token endpoint gave an invalid answer: {_one_line(exc, 200)}") from exc
    if not token.get("access_token"):
        raise OAuthProviderError("The token endpoint answered without an access_token.")
    return dict(token)


def exchange_code(config: ClientConfig, *, code: str, code_verifier: str, redirect_uri: str) -> dict:
    session = session_for(config, redirect_uri=redirect_uri)
    extra = dict(config.extra_params)
    if config.scopes:
        extra["scope"] = " ".join(config.scopes)
    return _call(
        session.fetch_token,
        config.token_url,
        grant_type="authorization_code",
        code=code,
        code_verifier=code_verifier,
        redirect_uri=redirect_uri,
        **extra,
    )


def refresh(config: ClientConfig, *, refresh_token: str) -> dict:
    session = session_for(config)
    return _call(session.refresh_token, config.token_url, refresh_token=refresh_token, **config.extra_params)


def client_credentials(config: ClientConfig) -> dict:
    session = session_for(config)
    return _call(session.fetch_token, config.token_url, grant_type="client_credentials", **config.extra_params)
