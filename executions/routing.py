from django.urls import path

from executions import consumers

websocket_urlpatterns = [
    path("ws/executions/", consumers.ExecutionHistoryConsumer.as_asgi()),
    path("ws/executions/<str:execution_id>/", consumers.ExecutionLogConsumer.as_asgi()),
]
