"""The settings module refuses unsafe production configurations (each case in a fresh interpreter)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GOOD_KEY = "pR0d-7f3a9c1e5b2d8f4a6c0e9b7d5f3a1c8e6b4d2f0a9c7e5"
GOOD_FERNET = "hTBWz1Ky1bY0fyvTCvpmm_t1Ljx-mCJxu2P8ws8xZQE="
GOOD_AUDIT_KEY = "q8Vd0m1Xr3vJm2cU0b6oWk9QZp4sT7yH1nE5aL2fG8c="


def run_manage(*args, **env_overrides):
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(
            ("DJANGO_", "ENVIRONMENT", "DEV_", "SECRET_KEY", "ENCRYPTION_KEYS", "DEBUG", "AUDIT_SIGNING_KEY")
        )
    }
    env.update({"DJANGO_SETTINGS_MODULE": "bifrost_site.settings"}, **env_overrides)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


PRODUCTION = {
    "ENVIRONMENT": "production",
    "SECRET_KEY": GOOD_KEY,
    "ENCRYPTION_KEYS": GOOD_FERNET,
    "AUDIT_SIGNING_KEY": GOOD_AUDIT_KEY,
    "ALLOWED_HOSTS": "bifrost.example.com",
}


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        ({"SECRET_KEY": ""}, "SECRET_KEY"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY"),
        ({"ENCRYPTION_KEYS": ""}, "ENCRYPTION_KEYS"),
        ({"ENCRYPTION_KEYS": "ZGV2LW9ubHktZW5jcnlwdGlvbi1rZXktMzJieXRlcyE="}, "ENCRYPTION_KEYS"),
        ({"AUDIT_SIGNING_KEY": ""}, "AUDIT_SIGNING_KEY"),
        ({"AUDIT_SIGNING_KEY": "c2hvcnQ="}, "AUDIT_SIGNING_KEY"),
        ({"AUDIT_SIGNING_KEY": "not base64!"}, "AUDIT_SIGNING_KEY"),
        ({"DEBUG": "true"}, "DEBUG"),
        ({"DEV_AUTH_BYPASS": "true"}, "DEV_AUTH_BYPASS"),
    ],
)
def test_production_refuses_unsafe_settings(overrides, needle):
    env = dict(PRODUCTION)
    env.update(overrides)
    if env.get("SECRET_KEY") == "":
        env.pop("SECRET_KEY")
    result = run_manage("check", **env)
    assert result.returncode != 0
    assert needle in result.stderr


def test_bypass_refused_in_testing_environment():
    result = run_manage("check", ENVIRONMENT="testing", DEV_AUTH_BYPASS="true")
    assert result.returncode != 0
    assert "DEV_AUTH_BYPASS" in result.stderr


def test_check_deploy_is_clean_with_production_settings():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr


def test_unknown_environment_is_refused():
    result = run_manage("check", ENVIRONMENT="staging")
    assert result.returncode != 0
    assert "ENVIRONMENT" in result.stderr


DEBUG_PAGE = """
import os, sys
from django.test import RequestFactory
from django.views.debug import technical_500_response

request = RequestFactory().get("/api/workflows", HTTP_AUTHORIZATION="Bearer bearer-token-6")
request.META.update(os.environ)  # runserver's WSGI environ carries the process environment
try:
    raise RuntimeError("boom")
except RuntimeError:
    response = technical_500_response(request, *sys.exc_info())
sys.stdout.write(response.content.decode())
"""

CREDENTIALS = {
    "RABBITMQ_URL": ("amqp://bifrost:broker-pw-1@rabbit.internal:5672//", "broker-pw-1"),
    "REDIS_URL": ("redis://:redis-pw-2@redis.internal:6379/0", "redis-pw-2"),
    "DATABASE_URL": ("postgres://bifrost:db-pw-3@db.internal:5432/bifrost", "db-pw-3"),
    "ENCRYPTION_KEYS": (f"{GOOD_FERNET},{GOOD_FERNET[::-1]}", GOOD_FERNET),
    "AUDIT_SIGNING_KEY": ("audit-signing-key-4", "audit-signing-key-4"),
    "SECRET_KEY": (GOOD_KEY, GOOD_KEY),
    "PACKAGE_INDEX_URL": ("https://deploy-token-5@pypi.internal/simple?password=index-pw-8", "deploy-token-5"),
}


def test_the_debug_error_page_hides_every_credential():
    """Issue 18: in development the error page showed RABBITMQ_URL/CELERY_BROKER_URL with their password."""
    env = {name: value for name, (value, _secret) in CREDENTIALS.items()}
    result = run_manage("shell", "-c", DEBUG_PAGE, ENVIRONMENT="development", DEBUG="true", **env)
    assert result.returncode == 0, result.stderr
    page = result.stdout
    assert "RuntimeError" in page and "CELERY_BROKER_URL" in page and "CHANNEL_LAYERS" in page
    assert "rabbit.internal" in page and "db.internal" in page  # hosts stay, for debugging
    leaked = [
        secret for secret in (*(secret for _value, secret in CREDENTIALS.values()), "bearer-token-6") if secret in page
    ]
    assert leaked == []


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("amqp://guest:guest@localhost:5672//", "amqp://guest:********************@localhost:5672//"),
        ("redis://:pw@redis:6379/1", "redis://:********************@redis:6379/1"),
        ("https://ghp_token@github.com/o/r.git", "https://********************@github.com/o/r.git"),
        ("postgres://u:p@ss@db/x", "postgres://u:********************@db/x"),
        ("redis://redis:6379/0?password=pw&db=1", "redis://redis:6379/0?password=********************&db=1"),
        ("redis://localhost:6379/0", "redis://localhost:6379/0"),
        ("static/", "static/"),
    ],
)
def test_urls_keep_their_host_and_lose_their_credentials(text, shown):
    from bifrost_site.error_reports import ReportFilter

    assert ReportFilter().cleanse_setting("SOME_URL", text) == shown
    assert ReportFilter().cleanse_setting("HOSTS", [{"address": text}]) == [{"address": shown}]
