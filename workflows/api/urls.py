from django.urls import path

from workflows.api import views

workflows = views.WorkflowViewSet
providers = views.DataProviderViewSet

urlpatterns = [
    path("workflows", workflows.as_view({"get": "list"}), name="workflow-list"),
    path("workflows/reload", workflows.as_view({"post": "reload"}), name="workflow-reload"),
    path("workflows/<str:name>", workflows.as_view({"get": "retrieve"}), name="workflow-detail"),
    path("workflows/<str:name>/execute", workflows.as_view({"post": "execute"}), name="workflow-execute"),
    path("data-providers", providers.as_view({"get": "list"}), name="data-provider-list"),
    path("data-providers/<str:name>", providers.as_view({"post": "call"}), name="data-provider-call"),
]
