"""WebSocket routes of every app (DESIGN §10)."""

websocket_urlpatterns: list = []
