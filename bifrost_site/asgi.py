"""ASGI entry point: HTTP through Django, WebSocket through Channels (served by daphne)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bifrost_site.settings")

django_asgi_app = get_asgi_application()


def build_application(http_app=None):
    """Build the protocol router; tests construct it directly."""
    from channels.auth import AuthMiddlewareStack
    from channels.routing import ProtocolTypeRouter, URLRouter

    from bifrost_site.routing import websocket_urlpatterns
    from bifrost_site.ws_auth import SameOriginValidator, TokenAuthMiddleware

    return ProtocolTypeRouter(
        {
            "http": http_app or django_asgi_app,
            "websocket": SameOriginValidator(
                AuthMiddlewareStack(TokenAuthMiddleware(URLRouter(websocket_urlpatterns)))
            ),
        }
    )


application = build_application()
