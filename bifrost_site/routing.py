"""WebSocket routes of every app (DESIGN §10)."""

from django.urls import path

from executions.routing import websocket_urlpatterns as execution_patterns
from workflows.consumers import WorkspaceJobConsumer

websocket_urlpatterns: list = [
    *execution_patterns,
    path("ws/workspace/jobs/<uuid:job_id>/", WorkspaceJobConsumer.as_asgi()),
]
