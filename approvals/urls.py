"""Pages of the approvals app, included at /approvals/."""

from django.urls import path

from approvals import views

app_name = "approvals"

urlpatterns = [
    path("", views.approvals_page, name="list"),
    path("<str:approval_id>/approve/", views.approval_approve_view, name="approve"),
    path("<str:approval_id>/reject/", views.approval_reject_view, name="reject"),
    path("execution/<str:execution_id>/block/", views.execution_approval_block, name="execution_block"),
]
