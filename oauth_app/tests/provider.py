"""A small, real OAuth 2 authorization server on 127.0.0.1 for the test suite.

It implements what Bifrost's flows need and checks what a strict provider checks:
- GET  /authorize: response_type=code, client_id, redirect_uri, state, PKCE S256 challenge;
  redirects (302) to redirect_uri with code and state.
- POST /token: authorization_code (single-use codes, redirect_uri must match, PKCE S256
  code_verifier verified), refresh_token (optionally rotates the refresh token),
  client_credentials. Client authentication by client_secret_post or HTTP Basic.

It can be told to answer 4xx errors, 5xx N times in a row, a redirect from /token (any other path
POSTed to answers like /token, recorded under its own path), and to issue short-lived tokens, and
it records every token request (form fields and headers) so tests can assert what was sent and
how many attempts were made.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlencode, urlsplit


@dataclass
class RecordedRequest:
    path: str
    method: str
    form: dict[str, str]
    headers: dict[str, str]


@dataclass
class ProviderState:
    clients: dict[str, str] = field(default_factory=dict)  # client_id -> secret ("" = public client)
    codes: dict[str, dict] = field(default_factory=dict)
    refresh_tokens: dict[str, dict] = field(default_factory=dict)
    access_tokens: dict[str, dict] = field(default_factory=dict)
    requests: list[RecordedRequest] = field(default_factory=list)
    expires_in: int | None = 3600
    rotate_refresh_tokens: bool = True
    fail_5xx_times: int = 0
    fail_5xx_status: int = 503
    fail_4xx: tuple[int, dict] | None = None
    consent_error: str | None = None
    redirect_token_to: tuple[int, str] | None = None  # /token answers (status, Location) instead


def _s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


class OAuthProvider:
    def __init__(self):
        self.state = ProviderState()
        self.lock = threading.Lock()
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep the test output clean
                pass

            def do_GET(self):
                provider._authorize(self)

            def do_POST(self):
                provider._token(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    # --- lifecycle and configuration ---

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def authorize_url(self) -> str:
        return f"{self.base_url}/authorize"

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/token"

    def start(self) -> OAuthProvider:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def register_client(self, client_id: str, client_secret: str = "") -> None:
        with self.lock:
            self.state.clients[client_id] = client_secret

    def token_requests(self, grant_type: str | None = None) -> list[RecordedRequest]:
        with self.lock:
            return [
                r
                for r in self.state.requests
                if r.path.startswith("/token") and (grant_type is None or r.form.get("grant_type") == grant_type)
            ]

    def authorize(self, authorization_url: str) -> dict:
        """Follow an authorization URL like a browser that consents; returns the redirect's query."""
        import requests

        response = requests.get(authorization_url, allow_redirects=False, timeout=5)
        assert response.status_code == 302, response.text
        location = response.headers["Location"]
        return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()} | {"_location": location}

    # --- endpoints ---

    def _send(self, handler, status: int, body: dict | str, headers: dict | None = None) -> None:
        data = json.dumps(body).encode() if isinstance(body, dict) else body.encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json" if isinstance(body, dict) else "text/plain")
        handler.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            handler.send_header(key, value)
        handler.end_headers()
        handler.wfile.write(data)

    def _authorize(self, handler) -> None:
        parts = urlsplit(handler.path)
        if parts.path != "/authorize":
            return self._send(handler, 404, {"error": "not_found"})
        q = {k: v[0] for k, v in parse_qs(parts.query).items()}
        with self.lock:
            self.state.requests.append(RecordedRequest(parts.path, "GET", q, dict(handler.headers)))
            if q.get("response_type") != "code" or q.get("client_id") not in self.state.clients:
                return self._send(handler, 400, {"error": "invalid_request"})
            if q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
                return self._send(handler, 400, {"error": "invalid_request", "error_description": "PKCE required"})
            redirect = q["redirect_uri"]
            if self.state.consent_error:
                params = {
                    "error": self.state.consent_error,
                    "error_description": "The user said no",
                    "state": q["state"],
                }
            else:
                code = secrets.token_urlsafe(16)
                self.state.codes[code] = {
                    "client_id": q["client_id"],
                    "redirect_uri": redirect,
                    "challenge": q["code_challenge"],
                    "scope": q.get("scope", ""),
                    "used": False,
                }
                params = {"code": code, "state": q["state"]}
        sep = "&" if "?" in redirect else "?"
        handler.send_response(302)
        handler.send_header("Location", f"{redirect}{sep}{urlencode(params)}")
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    def _client_auth(self, handler, form) -> str | None:
        header = handler.headers.get("Authorization", "")
        if header.startswith("Basic "):
            client_id, _, secret = base64.b64decode(header[6:]).decode().partition(":")
            client_id, secret = unquote(client_id), unquote(secret)
        else:
            client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        expected = self.state.clients.get(client_id)
        if expected is None or expected != secret:
            return None
        return client_id

    def _issue(self, client_id: str, scope: str, *, refresh: str | None = None, with_refresh: bool = True) -> dict:
        access = "at-" + secrets.token_urlsafe(16)
        token = {"access_token": access, "token_type": "Bearer", "scope": scope}
        if self.state.expires_in is not None:
            token["expires_in"] = self.state.expires_in
        if with_refresh:
            new_refresh = refresh or "rt-" + secrets.token_urlsafe(16)
            self.state.refresh_tokens[new_refresh] = {"client_id": client_id, "scope": scope}
            if refresh is None:
                token["refresh_token"] = new_refresh
        self.state.access_tokens[access] = {"client_id": client_id, "scope": scope}
        return token

    def _token(self, handler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length).decode()
        form = {k: v[0] for k, v in parse_qs(raw).items()}
        path = urlsplit(handler.path).path
        with self.lock:
            self.state.requests.append(RecordedRequest(path, "POST", form, dict(handler.headers)))
            if path == "/token" and self.state.redirect_token_to is not None:
                status, location = self.state.redirect_token_to
                return self._send(handler, status, {"moved": location}, {"Location": location})
            if not path.startswith("/token"):
                return self._send(handler, 404, {"error": "not_found"})
            if self.state.fail_5xx_times > 0:
                self.state.fail_5xx_times -= 1
                return self._send(handler, self.state.fail_5xx_status, "upstream unavailable")
            if self.state.fail_4xx is not None:
                status, body = self.state.fail_4xx
                return self._send(handler, status, body)
            client_id = self._client_auth(handler, form)
            if client_id is None:
                return self._send(
                    handler, 401, {"error": "invalid_client", "error_description": "Bad client credentials"}
                )
            grant = form.get("grant_type")
            if grant == "authorization_code":
                return self._send(handler, *self._grant_code(client_id, form))
            if grant == "refresh_token":
                return self._send(handler, *self._grant_refresh(client_id, form))
            if grant == "client_credentials":
                return self._send(handler, 200, self._issue(client_id, form.get("scope", ""), with_refresh=False))
            return self._send(handler, 400, {"error": "unsupported_grant_type"})

    def _grant_code(self, client_id, form):
        code = self.state.codes.get(form.get("code", ""))
        if code is None or code["client_id"] != client_id:
            return 400, {"error": "invalid_grant", "error_description": "Unknown authorization code"}
        if code["used"]:
            return 400, {"error": "invalid_grant", "error_description": "Authorization code already used"}
        code["used"] = True
        if form.get("redirect_uri") != code["redirect_uri"]:
            return 400, {"error": "invalid_grant", "error_description": "redirect_uri mismatch"}
        verifier = form.get("code_verifier", "")
        if not verifier or _s256(verifier) != code["challenge"]:
            return 400, {"error": "invalid_grant", "error_description": "PKCE verification failed"}
        return 200, self._issue(client_id, form.get("scope", code["scope"]))

    def _grant_refresh(self, client_id, form):
        current = self.state.refresh_tokens.get(form.get("refresh_token", ""))
        if current is None or current["client_id"] != client_id:
            return 400, {"error": "invalid_grant", "error_description": "Unknown or revoked refresh token"}
        old = form["refresh_token"]
        if self.state.rotate_refresh_tokens:
            del self.state.refresh_tokens[old]
            return 200, self._issue(client_id, form.get("scope", current["scope"]))
        return 200, self._issue(client_id, form.get("scope", current["scope"]), refresh=old)
