"""Token requests to OAuth 2 providers, through Authlib's requests client (DESIGN §8).

Every token request times out after 10 s and is retried up to 3 times (small exponential
backoff) on a 5xx answer or a network error, never on a 4xx answer. Retries are done by
urllib3's Retry on the session's HTTP adapter, so Authlib still builds and parses every request.

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
        description = exc.description or ""
        message = f"{exc.error}: {description}" if description else str(exc.error)
        raise OAuthProviderError(message, error=str(exc.error)) from exc
    except requests.HTTPError as exc:
        response = exc.response
        code = response.status_code if response is not None else None
        body = (response.text or "")[:300].strip() if response is not None else ""
        message = f"The token endpoint answered HTTP {code}" + (f": {body}" if body else "")
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
        raise OAuthProviderError(f"The token endpoint gave an invalid answer: {exc}") from exc
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
