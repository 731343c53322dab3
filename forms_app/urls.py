from django.urls import path

from forms_app import views

urlpatterns = [
    path("", views.form_list_page, name="forms-page-list"),
    path("<uuid:form_id>/", views.form_page, name="forms-page-detail"),
]
