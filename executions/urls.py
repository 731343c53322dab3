"""Pages of the executions app, included at /executions/."""

from django.urls import path

from executions import views

app_name = "executions"

urlpatterns = [
    path("", views.execution_history_page, name="history"),
    path("<str:execution_id>/", views.execution_detail_page, name="detail"),
    path("<str:execution_id>/result/", views.execution_result_fragment, name="result"),
    path("<str:execution_id>/cancel/", views.execution_cancel_view, name="cancel"),
    path("<str:execution_id>/rerun/", views.execution_rerun_view, name="rerun"),
    path("<str:execution_id>/log.txt", views.execution_log_text, name="log-text"),
    path("<str:execution_id>/log.ndjson", views.execution_log_ndjson, name="log-ndjson"),
]
