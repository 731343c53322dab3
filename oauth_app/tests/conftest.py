import socket

import pytest

from oauth_app.tests.provider import OAuthProvider


@pytest.fixture
def provider():
    server = OAuthProvider().start()
    server.register_client("bifrost-client", "provider-client-secret-123")
    yield server
    server.stop()


@pytest.fixture
def closed_port_url():
    """A loopback URL nothing listens on (network error)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}/token"
