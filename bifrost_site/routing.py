"""WebSocket routes of every app (DESIGN §10)."""

from django.urls import path

from workflows.consumers import WorkspaceJobConsumer

websocket_urlpatterns: list = [
    path("ws/workspace/jobs/<uuid:job_id>/", WorkspaceJobConsumer.as_asgi()),
]
