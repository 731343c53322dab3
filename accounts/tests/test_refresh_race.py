"""Refresh-token rotation under concurrent use, on the real PostgreSQL (DESIGN §17 "Session safety")."""

import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

from accounts.tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

CONCURRENT = 8


def _refresh_at_once(refresh_token: str, count: int) -> list:
    """`count` threads, each with its own database connection, post one refresh token together."""
    barrier = threading.Barrier(count)
    responses: list = [None] * count

    def refresh(index: int) -> None:
        client = APIClient()
        try:
            barrier.wait(timeout=30)
            responses[index] = client.post("/auth/refresh", {"refresh_token": refresh_token}, format="json")
        finally:
            connection.close()

    threads = [threading.Thread(target=refresh, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return responses


def test_concurrent_refreshes_of_one_token_yield_exactly_one_pair(lockout_store):
    user = UserFactory()
    tokens = APIClient().post("/auth/login", {"username": user.email, "password": DEFAULT_PASSWORD}).json()

    responses = _refresh_at_once(tokens["refresh_token"], CONCURRENT)

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] + [401] * (CONCURRENT - 1), [r.content for r in responses]
    winner = next(response.json() for response in responses if response.status_code == 200)
    # the one new pair works, and its refresh token rotates once more
    again = APIClient().post("/auth/refresh", {"refresh_token": winner["refresh_token"]}, format="json")
    assert again.status_code == 200
