from django.urls import path
from rest_framework.routers import SimpleRouter

from workflows.api import views

router = SimpleRouter(trailing_slash=False)
router.register("schedules", views.ScheduleViewSet, basename="schedule")
router.register("workflow-keys", views.WorkflowKeyViewSet, basename="workflow-key")

urlpatterns = [
    path("workspace/git", views.GitSettingsView.as_view(), name="workspace-git"),
    path("workspace/git/sync", views.GitSyncView.as_view(), name="workspace-git-sync"),
    path("workspace/jobs/<uuid:job_id>", views.WorkspaceJobView.as_view(), name="workspace-job"),
    path("packages", views.PackagesView.as_view(), name="packages"),
    path("packages/install", views.PackageInstallView.as_view(), name="packages-install"),
    path("endpoints/<str:workflow>", views.WorkflowEndpointView.as_view(), name="workflow-endpoint"),
    *router.urls,
]
