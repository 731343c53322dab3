"""Pages of the executions app, included at /executions/."""

from django.urls import path

from executions import views

app_name = "executions"

urlpatterns = [
    path("", views.execution_history_page, name="history"),
    path("<str:execution_id>/", views.execution_detail_page, name="detail"),
    path("<str:execution_id>/result/", views.execution_result_fragment, name="result"),
]
