"""A small, real OpenID Connect provider on loopback for the SSO tests (nothing reaches the internet).

It serves a discovery document, a JWKS, an authorization endpoint that signs in `provider.next_user`
at once (no login page) and a token endpoint that checks the client secret and the PKCE S256
verifier before handing out an RS256 ID token. Knobs let a test make the ID token wrong in one way:
`tamper = {"sign_with_other_key": True}`, `{"aud": "someone-else"}`, `{"exp_offset": -3600}`,
`{"nonce": "..."}`, `{"iss": "..."}`.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

from joserfc import jwt
from joserfc.jwk import RSAKey


@functools.cache
def _keys() -> tuple:
    """Two RSA keys with the same kid (one the JWKS publishes, one it does not), made once per process."""
    return tuple(RSAKey.generate_key(2048, parameters={"kid": "main"}, private=True) for _ in range(2))


class OIDCProvider:
    def __init__(self, *, client_id: str = "bifrost-client", client_secret: str | None = None):
        self.client_id = client_id
        self.client_secret = client_secret or secrets.token_urlsafe(16)
        self.key, self.other_key = _keys()
        self.next_user: dict = {"email": "someone@example.test", "name": "Some One"}
        self.tamper: dict = {}
        self.codes: dict[str, dict] = {}
        self.issued: list[dict] = []  # the claims of every ID token handed out
        self.requests: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.issuer = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()

    # --- the endpoints ---

    def discovery(self) -> dict:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
        }

    def authorize(self, query: dict) -> tuple[int, dict]:
        if query.get("client_id") != self.client_id or query.get("response_type") != "code":
            return 400, {"error": "invalid_request"}
        if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            return 400, {"error": "invalid_request", "error_description": "PKCE S256 is required"}
        code = secrets.token_urlsafe(16)
        self.codes[code] = {
            "nonce": query.get("nonce"),
            "challenge": query["code_challenge"],
            "redirect_uri": query["redirect_uri"],
            "user": dict(self.next_user),
        }
        location = query["redirect_uri"] + "?" + urlencode({"code": code, "state": query.get("state", "")})
        return 302, {"Location": location}

    def token(self, form: dict) -> tuple[int, dict]:
        grant = self.codes.pop(form.get("code", ""), None)
        if grant is None:
            return 400, {"error": "invalid_grant"}
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return 401, {"error": "invalid_client"}
        if form.get("redirect_uri") != grant["redirect_uri"]:
            return 400, {"error": "invalid_grant", "error_description": "redirect_uri"}
        verifier = form.get("code_verifier", "")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if challenge != grant["challenge"]:
            return 400, {"error": "invalid_grant", "error_description": "PKCE verifier"}
        id_token = self.id_token(grant)
        return 200, {"access_token": secrets.token_urlsafe(16), "token_type": "Bearer", "id_token": id_token}

    def id_token(self, grant: dict) -> str:
        now = int(time.time())
        user = grant["user"]
        claims = {
            "iss": self.tamper.get("iss", self.issuer),
            "aud": self.tamper.get("aud", self.client_id),
            "sub": hashlib.sha256(user["email"].encode()).hexdigest()[:20],
            "iat": now,
            "exp": now + 300 + self.tamper.get("exp_offset", 0),
            "nonce": self.tamper.get("nonce", grant["nonce"]),
            **user,
        }
        self.issued.append(claims)
        key = self.other_key if self.tamper.get("sign_with_other_key") else self.key
        return jwt.encode({"alg": "RS256", "kid": "main"}, claims, key)

    def _handler(self):
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status: int, body: dict):
                if status == 302:
                    self.send_response(302)
                    self.send_header("Location", body["Location"])
                    self.end_headers()
                    return
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                parts = urlsplit(self.path)
                provider.requests.append(parts.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                if parts.path == "/.well-known/openid-configuration":
                    self._send(200, provider.discovery())
                elif parts.path == "/jwks":
                    self._send(200, {"keys": [provider.key.as_dict(private=False)]})
                elif parts.path == "/authorize":
                    self._send(*provider.authorize(query))
                else:
                    self._send(404, {"error": "not_found"})

            def do_POST(self):
                parts = urlsplit(self.path)
                provider.requests.append(parts.path)
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                if parts.path == "/token":
                    self._send(*provider.token(form))
                else:
                    self._send(404, {"error": "not_found"})

        return Handler
