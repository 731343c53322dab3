"""bifrost_site.middleware.LazyMessageMiddleware: messages work as with Django's middleware, and a
request that never touches them never builds the message storage.

The views below run behind the project's whole middleware stack (this module is the URLconf)."""

import pytest
from django.contrib import messages
from django.http import HttpResponse, JsonResponse
from django.test import Client
from django.urls import path

from bifrost_site import middleware


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


def test_a_request_that_never_reads_messages_builds_no_storage(monkeypatch):
    built = []
    real = middleware.default_storage
    monkeypatch.setattr(middleware, "default_storage", lambda request: built.append(request.path) or real(request))
    client = Client()
    response = client.get("/untouched")
    assert response.status_code == 200 and built == []
    assert "messages" not in response.cookies
    client.get("/add")
    assert built == ["/add"]
