"""Messages (the admin's "saved" notices) go through the project's middleware stack intact.

The views below run behind the project's whole middleware stack (this module is the URLconf)."""

import pytest
from django.contrib import messages
from django.http import HttpResponse, JsonResponse
from django.test import Client
from django.urls import path


def add_message(request):
    messages.success(request, "Organization saved.")
    return HttpResponse("added")


def show_messages(request):
    return JsonResponse({"messages": [str(message) for message in messages.get_messages(request)]})


def untouched(request):
    return JsonResponse({"ok": True})


urlpatterns = [
    path("add", add_message),
    path("show", show_messages),
    path("untouched", untouched),
]

pytestmark = [pytest.mark.urls(__name__), pytest.mark.django_db]


def test_a_message_added_in_one_request_is_shown_once_in_the_next():
    client = Client()
    assert client.get("/add").status_code == 200
    assert "messages" in client.cookies  # the fallback storage keeps short messages in a cookie
    assert client.get("/untouched").json() == {"ok": True}  # a request in between leaves them be
    assert client.get("/show").json() == {"messages": ["Organization saved."]}
    assert client.get("/show").json() == {"messages": []}  # shown once
