"""The settings module refuses unsafe production configurations (each case in a fresh interpreter)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GOOD_KEY = "pR0d-7f3a9c1e5b2d8f4a6c0e9b7d5f3a1c8e6b4d2f0a9c7e5"
GOOD_FERNET = "hTBWz1Ky1bY0fyvTCvpmm_t1Ljx-mCJxu2P8ws8xZQE="


def run_manage(*args, **env_overrides):
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "ENVIRONMENT", "DEV_", "SECRET_KEY", "ENCRYPTION_KEYS", "DEBUG"))
    }
    env.update({"DJANGO_SETTINGS_MODULE": "bifrost_site.settings"}, **env_overrides)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


PRODUCTION = {
    "ENVIRONMENT": "production",
    "SECRET_KEY": GOOD_KEY,
    "ENCRYPTION_KEYS": GOOD_FERNET,
    "ALLOWED_HOSTS": "bifrost.example.com",
}


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        ({"SECRET_KEY": ""}, "SECRET_KEY"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY"),
        ({"ENCRYPTION_KEYS": ""}, "ENCRYPTION_KEYS"),
        ({"ENCRYPTION_KEYS": "ZGV2LW9ubHktZW5jcnlwdGlvbi1rZXktMzJieXRlcyE="}, "ENCRYPTION_KEYS"),
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
