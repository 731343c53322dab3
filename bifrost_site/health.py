"""Health, liveness and metrics (DESIGN §6 "health")."""

import time

from django.conf import settings
from django.db import connection
from drf_spectacular.utils import extend_schema, inline_serializer
from kombu import Connection
from rest_framework import permissions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

CHECK_TIMEOUT_SECONDS = 2.0


def _timed(check) -> dict:
    started = time.perf_counter()
    try:
        check()
    except Exception as exc:  # every failure is reported, none escapes
        return {
            "status": "down",
            "latency_ms": round((time.perf_counter() - started) * 1000, 2),
            "error": f"{type(exc).__name__}: {str(exc)[:200]}",
        }
    return {"status": "up", "latency_ms": round((time.perf_counter() - started) * 1000, 2)}


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def check_broker() -> None:
    with Connection(settings.CELERY_BROKER_URL, connect_timeout=CHECK_TIMEOUT_SECONDS) as conn:
        conn.ensure_connection(max_retries=0, timeout=CHECK_TIMEOUT_SECONDS)


def check_redis() -> None:
    import redis

    client = redis.Redis.from_url(
        settings.REDIS_URL, socket_connect_timeout=CHECK_TIMEOUT_SECONDS, socket_timeout=CHECK_TIMEOUT_SECONDS
    )
    try:
        client.ping()
    finally:
        client.close()


def run_checks() -> tuple[str, dict]:
    checks = {"database": _timed(check_database), "broker": _timed(check_broker), "redis": _timed(check_redis)}
    if checks["database"]["status"] != "up":
        overall = "unhealthy"
    elif any(c["status"] != "up" for c in checks.values()):
        overall = "degraded"
    else:
        overall = "healthy"
    return overall, checks


CheckSerializer = inline_serializer(
    "HealthCheck",
    {
        "status": serializers.CharField(),
        "latency_ms": serializers.FloatField(),
        "error": serializers.CharField(required=False),
    },
)
HealthSerializer = inline_serializer(
    "Health",
    {
        "status": serializers.ChoiceField(choices=["healthy", "degraded", "unhealthy"]),
        "checks": inline_serializer(
            "HealthChecks", {"database": CheckSerializer, "broker": CheckSerializer, "redis": CheckSerializer}
        ),
    },
)


class HealthView(APIView):
    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]

    @extend_schema(responses={200: HealthSerializer, 503: HealthSerializer}, tags=["health"], summary="Service health")
    def get(self, request):
        overall, checks = run_checks()
        return Response({"status": overall, "checks": checks}, status=503 if overall == "unhealthy" else 200)


class LiveView(APIView):
    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]

    @extend_schema(
        responses={200: inline_serializer("Live", {"status": serializers.CharField()})},
        tags=["health"],
        summary="Liveness: answers without touching any service",
    )
    def get(self, request):
        return Response({"status": "alive"})
