from django.urls import path, re_path
from rest_framework.routers import SimpleRouter

from workflows.api import registry_views, views

router = SimpleRouter(trailing_slash=False)
router.register("workflow-keys", views.WorkflowKeyViewSet, basename="workflow-key")

schedules = views.ScheduleViewSet
legacy_schedules = views.WorkflowScheduleViewSet
workflows = registry_views.WorkflowViewSet
providers = registry_views.DataProviderViewSet

urlpatterns = [
    path("workflows", workflows.as_view({"get": "list"}), name="workflow-list"),
    path("workflows/reload", workflows.as_view({"post": "reload"}), name="workflow-reload"),
    path(
        "workflows/<str:name>",
        workflows.as_view({"get": "retrieve", "patch": "partial_update"}),
        name="workflow-detail",
    ),
    path("workflows/<str:name>/execute", workflows.as_view({"post": "execute"}), name="workflow-execute"),
    path("workflows/<str:name>/versions", workflows.as_view({"get": "versions"}), name="workflow-versions"),
    path("schedules", schedules.as_view({"get": "list", "post": "create"}), name="schedule-list"),
    path("schedules/validate", schedules.as_view({"post": "validate"}), name="schedule-validate"),
    path(
        "schedules/<uuid:pk>",
        schedules.as_view({"get": "retrieve", "patch": "partial_update", "delete": "destroy"}),
        name="schedule-detail",
    ),
    path("schedules/<uuid:pk>/trigger", schedules.as_view({"post": "trigger"}), name="schedule-trigger"),
    re_path(
        r"^schedules/(?P<workflow>[a-z0-9_]+)$",
        legacy_schedules.as_view({"get": "retrieve", "patch": "partial_update", "delete": "destroy"}),
        name="workflow-schedule-detail",
    ),
    re_path(
        r"^schedules/(?P<workflow>[a-z0-9_]+)/trigger$",
        legacy_schedules.as_view({"post": "trigger"}),
        name="workflow-schedule-trigger",
    ),
    path("data-providers", providers.as_view({"get": "list"}), name="data-provider-list"),
    path("data-providers/<str:name>", providers.as_view({"post": "call"}), name="data-provider-call"),
    path("workspace/git", views.GitSettingsView.as_view(), name="workspace-git"),
    path("workspace/git/sync", views.GitSyncView.as_view(), name="workspace-git-sync"),
    path("workspace/jobs/<uuid:job_id>", views.WorkspaceJobView.as_view(), name="workspace-job"),
    path("packages", views.PackagesView.as_view(), name="packages"),
    path("packages/install", views.PackageInstallView.as_view(), name="packages-install"),
    path("endpoints/<str:workflow>", views.WorkflowEndpointView.as_view(), name="workflow-endpoint"),
    *router.urls,
]
