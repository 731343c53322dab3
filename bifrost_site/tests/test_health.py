import pytest
from django.test import override_settings
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def test_health_checks_every_service_for_real():
    response = APIClient().get("/health")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "healthy"
    for name in ("database", "broker", "redis"):
        assert body["checks"][name]["status"] == "up"
        assert body["checks"][name]["latency_ms"] >= 0


def test_live_touches_no_service():
    with override_settings(CELERY_BROKER_URL="amqp://guest:guest@127.0.0.1:1//", REDIS_URL="redis://127.0.0.1:1/0"):
        response = APIClient().get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "alive"}


def test_broker_down_is_degraded_200():
    with override_settings(CELERY_BROKER_URL="amqp://guest:guest@127.0.0.1:1//"):
        response = APIClient().get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["broker"]["status"] == "down"
    assert body["checks"]["broker"]["error"]
    assert body["checks"]["database"]["status"] == "up"


def test_redis_down_is_degraded_200():
    with override_settings(REDIS_URL="redis://127.0.0.1:1/0"):
        response = APIClient().get("/health")
    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert response.json()["checks"]["redis"]["status"] == "down"


def test_database_unreachable_is_unhealthy_503(monkeypatch):
    """Point the check at a port where no PostgreSQL listens: a real failed connection, not a mock."""
    import psycopg

    from bifrost_site import health

    def unreachable_database():
        with psycopg.connect("postgresql://postgres@127.0.0.1:1/bifrost", connect_timeout=1):
            pass

    monkeypatch.setattr(health, "check_database", unreachable_database)
    response = APIClient().get("/health")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unhealthy"
    assert body["checks"]["database"]["status"] == "down"


def test_unknown_api_path_is_json_404():
    response = APIClient().get("/api/does-not-exist")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_request_id_is_echoed():
    response = APIClient().get("/health/live", HTTP_X_REQUEST_ID="abc-123")
    assert response["X-Request-ID"] == "abc-123"
    assert len(APIClient().get("/health/live")["X-Request-ID"]) == 32
