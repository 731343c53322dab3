"""WebSocket routes of every app (DESIGN §10)."""

from executions.routing import websocket_urlpatterns as execution_patterns

websocket_urlpatterns: list = [*execution_patterns]
