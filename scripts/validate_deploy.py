#!/usr/bin/env python3
"""Offline validation of every deployment file (issue 25; `make deploy-check`, part of `make test`).

- deploy/Caddyfile: `caddy validate` for the public host (automatic HTTPS) and for plain HTTP on loopback with
  several upstreams (the rehearsal's form);
- docker-compose.yml and deploy/compose.production.yml: interpolated as Compose does (the production file with
  deploy/production.env.example), then checked against the Compose Specification JSON schema vendored in
  deploy/schemas/compose-spec.json, plus the production file's own rules (services, published ports, start order,
  healthchecks, one beat, scalable workers, volumes, networks, settings);
- deploy/kubernetes: `kubectl kustomize` of the base, the production overlay and the overlay with the KEDA
  component; every rendered manifest against the Kubernetes OpenAPI schemas (kubernetes-validate, strict: unknown
  fields are errors) and the ScaledObject against KEDA's schema (deploy/schemas/keda-scaledobject-v1alpha1.json),
  plus the manifests' own rules (probes, resources, security contexts, one Recreate beat, routes, HPA, PDBs);
- .github/workflows/ci.yml and .github/dependabot.yml with check-jsonschema's built-in schemas.

Prints one line per check; exits 1 when any check found a problem. Needs caddy and kubectl on PATH
(scripts/system_packages.sh installs them). Every rule function returns a list of problems, so the tests in
bifrost_site/tests/test_containers.py feed them broken copies.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
CADDYFILE = DEPLOY / "Caddyfile"
DEV_COMPOSE = ROOT / "docker-compose.yml"
PROD_COMPOSE = DEPLOY / "compose.production.yml"
PROD_ENV_EXAMPLE = DEPLOY / "production.env.example"
COMPOSE_SCHEMA = DEPLOY / "schemas" / "compose-spec.json"
KEDA_SCHEMA = DEPLOY / "schemas" / "keda-scaledobject-v1alpha1.json"
KUSTOMIZE_DIR = DEPLOY / "kubernetes"
KUSTOMIZATIONS = ("base", "overlays/production", "overlays/production-keda", "overlays/production-git-sync")
SECRET_EXAMPLE = KUSTOMIZE_DIR / "overlays" / "production" / "secret.example.yaml"
# the oldest Kubernetes still supported upstream when this was written, and the newest kubernetes-validate knows
KUBERNETES_VERSIONS = ("1.30.0", "1.37.0")
GITHUB_FILES = (
    (ROOT / ".github" / "workflows" / "ci.yml", "vendor.github-workflows"),
    (ROOT / ".github" / "dependabot.yml", "vendor.dependabot"),
)

PROD_SERVICES = frozenset({"proxy", "migrate", "api", "ws", "worker", "beat", "postgres", "rabbitmq", "redis"})
PROD_APP_SERVICES = ("migrate", "api", "ws", "worker", "beat")
PROD_LONG_RUNNING = PROD_SERVICES - {"migrate"}
PROD_DATA_SERVICES = ("postgres", "rabbitmq", "redis")
PROD_REQUIRED_SETTINGS = (
    "DATABASE_URL",
    "RABBITMQ_URL",
    "REDIS_URL",
    "SECRET_KEY",
    "ENCRYPTION_KEYS",
    "AUDIT_SIGNING_KEY",
)


# --------------------------------------------------------------------------------------------------
# Compose
# --------------------------------------------------------------------------------------------------

_INTERPOLATION = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*)|(?P<invalid>))"
)


def interpolate(value, env: dict[str, str]):
    """Compose interpolation: ``$$``, ``$VAR``, ``${VAR}``, ``${VAR:-d}``, ``${VAR-d}``, ``${VAR:?e}``, ``${VAR?e}``."""
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def replace(match: re.Match) -> str:
        if match.group("escaped"):
            return "$"
        if match.group("invalid") is not None:
            raise ValueError(f"invalid interpolation format in {value!r}")
        name = match.group("braced") or match.group("bare")
        op, arg = match.group("op"), match.group("arg")
        current = env.get(name)
        unset = current is None or (op is not None and op.startswith(":") and current == "")
        if op in (":-", "-"):
            return arg if unset else current
        if op in (":?", "?"):
            if unset:
                raise ValueError(f"required variable {name} is missing: {arg}")
            return current
        return current or ""

    return _INTERPOLATION.sub(replace, value)


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines (Compose's env-file format without quotes); comments and blank lines skipped."""
    env = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise ValueError(f"{path.name}: not KEY=VALUE: {raw!r}")
        env[key.strip()] = value.strip()
    return env


def load_yaml(path: Path) -> dict:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(document, dict):
        raise ValueError(f"{path} is not a mapping")
    return document


def resolved(document: dict, env: dict[str, str]) -> dict:
    """The document as Compose sees it: extension keys (x-...) dropped, variables interpolated."""
    return interpolate({key: value for key, value in document.items() if not key.startswith("x-")}, env)


def compose_schema_problems(document: dict, env: dict[str, str]) -> list[str]:
    import jsonschema

    try:
        data = resolved(document, env)
    except ValueError as exc:
        return [str(exc)]
    schema = json.loads(COMPOSE_SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.validators.validator_for(schema)(schema)  # the schema names its draft (2020-12)
    return [
        f"{'/'.join(str(part) for part in error.absolute_path) or '<root>'}: {error.message}"
        for error in sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    ]


def environment_of(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def _depends_on(service: dict) -> dict:
    deps = service.get("depends_on") or {}
    return {name: {"condition": "service_started"} for name in deps} if isinstance(deps, list) else deps


def production_compose_problems(document: dict, env: dict[str, str]) -> list[str]:
    """The production compose file's rules (DESIGN §19), on the file interpolated with `env`."""
    try:
        data = resolved(document, env)
    except ValueError as exc:
        return [str(exc)]
    services = data.get("services") or {}
    problems = []
    if set(services) != PROD_SERVICES:
        problems.append(f"services are {sorted(services)}, expected {sorted(PROD_SERVICES)}")
    for name, service in services.items():
        published = service.get("ports") or []
        if name != "proxy" and published:
            problems.append(f"{name} publishes ports {published}: only the proxy may")
    proxy = services.get("proxy") or {}
    proxy_ports = {str(port).split(":")[-2] if str(port).count(":") else str(port) for port in proxy.get("ports") or []}
    if not {"80", "443"} <= proxy_ports:
        problems.append(f"proxy publishes {sorted(proxy_ports)}, expected 80 and 443")
    if not str(proxy.get("image", "")).startswith("caddy:2"):
        problems.append("proxy must run Caddy 2")
    if not any(str(volume).endswith("/etc/caddy/Caddyfile:ro") for volume in proxy.get("volumes") or []):
        problems.append("proxy must mount deploy/Caddyfile read-only at /etc/caddy/Caddyfile")
    if "BIFROST_HOST" not in environment_of(proxy):
        problems.append("proxy does not get BIFROST_HOST (automatic HTTPS needs the host name)")

    for name in PROD_LONG_RUNNING & set(services):
        health = services[name].get("healthcheck") or {}
        if not health.get("test") or health.get("disable"):
            problems.append(f"{name} has no healthcheck")
    migrate = services.get("migrate") or {}
    if migrate.get("restart") not in ("no", None):
        problems.append("migrate must not restart (it is a one-shot service)")
    if "migrate.sh" not in " ".join(migrate.get("command") or []):
        problems.append("migrate must run docker/migrate.sh")
    for name in PROD_APP_SERVICES:
        service = services.get(name) or {}
        deps = _depends_on(service)
        for data_service in PROD_DATA_SERVICES:
            if (deps.get(data_service) or {}).get("condition") != "service_healthy":
                problems.append(f"{name} must depend on {data_service} being service_healthy")
        if name != "migrate" and (deps.get("migrate") or {}).get("condition") != "service_completed_successfully":
            problems.append(f"{name} must depend on migrate with condition service_completed_successfully")
        if "production.env" not in [str(item.get("path", item)) if isinstance(item, dict) else str(item)
                                    for item in service.get("env_file") or []]:  # fmt: skip
            problems.append(f"{name} must read its settings from production.env (env_file)")
        app_env = environment_of(service)
        if app_env.get("ENVIRONMENT") != "production":
            problems.append(f"{name} ENVIRONMENT must be production")
        if not service.get("read_only"):
            problems.append(f"{name} must run with a read-only root filesystem (read_only: true)")
        if "/tmp" not in {str(path).split(":")[0] for path in service.get("tmpfs") or []}:  # noqa: S108 (a container path)
            problems.append(f"{name} needs a tmpfs at /tmp (read-only root filesystem)")
        if {"workspace", "media"} - {str(volume).split(":")[0] for volume in service.get("volumes") or []}:
            problems.append(f"{name} must mount the workspace and media volumes")
    for name in ("api", "ws", "worker", "beat", "proxy"):
        deps = _depends_on(services.get(name) or {})
        if name == "proxy":
            for upstream in ("api", "ws"):
                if (deps.get(upstream) or {}).get("condition") != "service_healthy":
                    problems.append(f"proxy must depend on {upstream} being service_healthy")
    api_env = environment_of(services.get("api") or {})
    ws_env = environment_of(services.get("ws") or {})
    if api_env.get("WEB_SERVER") != "granian":
        problems.append("api must run granian (WEB_SERVER=granian)")
    if ws_env.get("WEB_SERVER") != "daphne":
        problems.append("ws must run daphne (WEB_SERVER=daphne)")
    for name, web_env in (("api", api_env), ("ws", ws_env)):
        if web_env.get("RUN_MIGRATIONS") != "0":
            problems.append(f"{name} must not migrate (RUN_MIGRATIONS=0): the migrate service does")
        if not web_env.get("WEB_BACKLOG"):
            problems.append(f"{name} must set its listen backlog deliberately (WEB_BACKLOG)")
    if "worker" not in " ".join((services.get("worker") or {}).get("command") or []):
        problems.append("worker must run start-jobs.sh worker")
    if "container_name" in (services.get("worker") or {}):
        problems.append("worker has a container_name: `--scale worker=N` would fail")
    beat = services.get("beat") or {}
    if "beat" not in " ".join(beat.get("command") or []):
        problems.append("beat must run start-jobs.sh beat")
    if not beat.get("container_name"):
        problems.append("beat needs a fixed container_name so that it cannot be scaled past one")
    if int(((beat.get("deploy") or {}).get("replicas")) or 1) != 1:
        problems.append("beat must have exactly one replica")

    declared = set(data.get("volumes") or {})
    for name, service in services.items():
        for volume in service.get("volumes") or []:
            source = str(volume).split(":")[0]
            if not source.startswith((".", "/")) and source not in declared:
                problems.append(f"{name} uses volume {source!r}, which is not declared")
    for name, path in (("postgres", "/var/lib/postgresql/data"), ("rabbitmq", "/var/lib/rabbitmq"), ("redis", "/data")):
        if not any(str(volume).endswith(f":{path}") for volume in (services.get(name) or {}).get("volumes") or []):
            problems.append(f"{name} keeps no data in a volume at {path}")
    networks = data.get("networks") or {}
    if not (networks.get("backend") or {}).get("internal"):
        problems.append("the backend network must be internal")
    for name in PROD_DATA_SERVICES:
        if (services.get(name) or {}).get("networks") != ["backend"]:
            problems.append(f"{name} must be on the internal backend network only")
    if "backend" in ((services.get("proxy") or {}).get("networks") or []):
        problems.append("the proxy must not reach the data services (backend network)")
    return problems


def production_env_problems(env: dict[str, str]) -> list[str]:
    """The example env file names every setting the services need, and its URLs match the bundled services."""
    problems = [f"production.env.example lacks {key}" for key in (*PROD_REQUIRED_SETTINGS, "BIFROST_HOST", "ACME_EMAIL",
                                                                   "POSTGRES_PASSWORD", "RABBITMQ_PASSWORD",
                                                                   "REDIS_PASSWORD") if not env.get(key)]  # fmt: skip
    from urllib.parse import urlsplit

    checks = (
        ("DATABASE_URL", "postgres", "POSTGRES_PASSWORD"),
        ("RABBITMQ_URL", "rabbitmq", "RABBITMQ_PASSWORD"),
        ("REDIS_URL", "redis", "REDIS_PASSWORD"),
    )
    for variable, host, password in checks:
        url = urlsplit(env.get(variable, ""))
        if url.hostname != host or url.password != env.get(password):
            problems.append(f"{variable} in production.env.example must use the {host} service and {password}")
    return problems


# --------------------------------------------------------------------------------------------------
# Kubernetes
# --------------------------------------------------------------------------------------------------


def kustomize(directory: Path) -> list[dict]:
    result = subprocess.run(
        ["kubectl", "kustomize", str(directory)], capture_output=True, text=True, timeout=120, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"kubectl kustomize {directory.relative_to(ROOT)} failed: {result.stderr.strip()}")
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def schema_problems_k8s(documents: list[dict]) -> list[str]:
    import jsonschema
    import kubernetes_validate
    from kubernetes_validate.utils import SchemaNotFoundError, ValidationError

    keda = jsonschema.Draft202012Validator(json.loads(KEDA_SCHEMA.read_text(encoding="utf-8")))
    problems = []
    for doc in documents:
        label = f"{doc.get('kind')}/{(doc.get('metadata') or {}).get('name')}"
        if doc.get("apiVersion") == "keda.sh/v1alpha1" and doc.get("kind") == "ScaledObject":
            for error in keda.iter_errors(doc):
                problems.append(f"{label}: {'/'.join(map(str, error.absolute_path))}: {error.message}")
            continue
        for version in KUBERNETES_VERSIONS:
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except ValidationError as exc:
                problems.append(f"{label} (Kubernetes {version}): {'/'.join(map(str, exc.path))}: {exc.message}")
            except SchemaNotFoundError as exc:
                problems.append(f"{label} (Kubernetes {version}): no schema: {exc}")
    return problems


def _containers(doc: dict) -> list[dict]:
    spec = ((doc.get("spec") or {}).get("template") or {}).get("spec") or {}
    return [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]


def _by(documents: list[dict], kind: str) -> dict[str, dict]:
    return {doc["metadata"]["name"]: doc for doc in documents if doc.get("kind") == kind}


def _http_probe(container: dict, name: str) -> str | None:
    return (((container.get(name) or {}).get("httpGet")) or {}).get("path")


def _is_bifrost(container: dict) -> bool:
    return str(container.get("image", "")).split("/")[-1].split(":")[0] == "bifrost"


def manifest_problems(documents: list[dict], keda: bool = False, git_sync: bool = False) -> list[str]:
    """The rendered manifests' own rules (DESIGN §19)."""
    problems = []
    deployments = _by(documents, "Deployment")
    jobs = _by(documents, "Job")
    if set(deployments) != {"api", "ws", "worker", "beat"}:
        problems.append(f"Deployments are {sorted(deployments)}, expected api, ws, worker, beat")
    if "bifrost-migrate" not in jobs:
        problems.append("no migration Job bifrost-migrate")
    for doc in [*deployments.values(), *jobs.values()]:
        name = doc["metadata"]["name"]
        pod = doc["spec"]["template"]["spec"]
        security = pod.get("securityContext") or {}
        if not security.get("runAsNonRoot") or not security.get("runAsUser"):
            problems.append(f"{name}: the pod must run as a non-root user (runAsNonRoot, runAsUser)")
        if (security.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
            problems.append(f"{name}: seccompProfile RuntimeDefault missing")
        if pod.get("automountServiceAccountToken") is not False:
            problems.append(f"{name}: automountServiceAccountToken must be false")
        volumes = {volume["name"]: volume for volume in pod.get("volumes") or []}
        for container in _containers(doc):
            label = f"{name}/{container['name']}"
            csc = container.get("securityContext") or {}
            if csc.get("readOnlyRootFilesystem") is not True:
                problems.append(f"{label}: readOnlyRootFilesystem must be true")
            if csc.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{label}: allowPrivilegeEscalation must be false")
            if "ALL" not in ((csc.get("capabilities") or {}).get("drop") or []):
                problems.append(f"{label}: capabilities must drop ALL")
            resources = container.get("resources") or {}
            for kind in ("requests", "limits"):
                for resource in ("cpu", "memory"):
                    if resource not in (resources.get(kind) or {}):
                        problems.append(f"{label}: no {resource} {kind}")
            mounts = {mount["mountPath"]: mount["name"] for mount in container.get("volumeMounts") or []}
            if "emptyDir" not in volumes.get(mounts.get("/tmp", ""), {}):  # noqa: S108 (a container path)
                problems.append(f"{label}: /tmp must be an emptyDir (the root filesystem is read-only)")
            if "/app/workspace" not in mounts:
                problems.append(f"{label}: the workspace is not mounted at /app/workspace")
            if not _is_bifrost(container):
                continue  # e.g. git-sync: none of Bifrost's settings or secrets
            env_from = container.get("envFrom") or []
            if not any("configMapRef" in source for source in env_from) or not any(
                "secretRef" in source for source in env_from
            ):
                problems.append(f"{label}: settings must come from the ConfigMap and the Secret (envFrom)")
            if "command" in container:
                problems.append(
                    f"{label}: use args, not command, so the image's entrypoint still waits for the services"
                )
    for name in ("api", "ws"):
        doc = deployments.get(name)
        if doc is None:
            continue
        main = doc["spec"]["template"]["spec"]["containers"][0]
        if _http_probe(main, "livenessProbe") != "/health/live":
            problems.append(f"{name}: the liveness probe must GET /health/live")
        if _http_probe(main, "readinessProbe") != "/health":
            problems.append(f"{name}: the readiness probe must GET /health")
        env = {item["name"]: item.get("value") for item in main.get("env") or []}
        expected = "granian" if name == "api" else "daphne"
        if env.get("WEB_SERVER") != expected:
            problems.append(f"{name}: WEB_SERVER must be {expected}")
        if not env.get("WEB_BACKLOG"):
            problems.append(f"{name}: set the listen backlog deliberately (WEB_BACKLOG)")
        if env.get("RUN_MIGRATIONS") != "0":
            problems.append(f"{name}: the Job migrates, the web pods must not (RUN_MIGRATIONS=0)")
    worker = deployments.get("worker")
    if worker is not None and not worker["spec"]["template"]["spec"]["containers"][0].get("livenessProbe"):
        problems.append("worker: no liveness probe")
    beat = deployments.get("beat")
    if beat is not None:
        if beat["spec"].get("replicas") != 1:
            problems.append("beat: exactly one replica")
        if (beat["spec"].get("strategy") or {}).get("type") != "Recreate":
            problems.append("beat: strategy must be Recreate (a rolling update runs two beats)")
    job = jobs.get("bifrost-migrate")
    if job is not None and "migrate.sh" not in " ".join(
        job["spec"]["template"]["spec"]["containers"][0].get("args") or []
    ):
        problems.append("bifrost-migrate must run docker/migrate.sh")

    services = _by(documents, "Service")
    for name in ("api", "ws"):
        if name not in services:
            problems.append(f"no Service {name}")
    routes = {}
    for ingress in _by(documents, "Ingress").values():
        for rule in ingress["spec"].get("rules") or []:
            for path in (rule.get("http") or {}).get("paths") or []:
                routes[path["path"]] = path["backend"]["service"]["name"]
    if routes.get("/ws/") != "ws" or routes.get("/") != "api":
        problems.append(f"Ingress routes are {routes}, expected /ws/ -> ws and / -> api")
    hpas = _by(documents, "HorizontalPodAutoscaler")
    if "api" not in {hpa["spec"]["scaleTargetRef"]["name"] for hpa in hpas.values()}:
        problems.append("no HorizontalPodAutoscaler for api")
    if "beat" in {hpa["spec"]["scaleTargetRef"]["name"] for hpa in hpas.values()}:
        problems.append("beat must never be autoscaled")
    covered = {
        (pdb["spec"].get("selector") or {}).get("matchLabels", {}).get("app.kubernetes.io/component")
        for pdb in _by(documents, "PodDisruptionBudget").values()
    }
    for name in ("api", "ws", "worker"):
        if name not in covered:
            problems.append(f"no PodDisruptionBudget for {name}")
    if "beat" in covered:
        problems.append("a PodDisruptionBudget on the single beat would block node drains")
    if not any(doc.get("kind") == "ConfigMap" for doc in documents):
        problems.append("no ConfigMap for the settings")
    for doc in [*deployments.values(), *jobs.values()]:
        pod = doc["spec"]["template"]["spec"]
        workspace = next((volume for volume in pod.get("volumes") or [] if volume["name"] == "workspace"), {})
        inits = [container["name"] for container in pod.get("initContainers") or []]
        if git_sync:
            if "emptyDir" not in workspace or not inits or inits[0] != "git-sync-init":
                problems.append(f"{doc['metadata']['name']}: with git-sync the workspace is an emptyDir cloned first")
        elif "persistentVolumeClaim" not in workspace:
            problems.append(f"{doc['metadata']['name']}: the workspace must be the shared volume claim")
    if git_sync:
        configs = [
            doc for doc in documents if doc.get("kind") == "ConfigMap" and "WORKSPACE_PATH" in (doc.get("data") or {})
        ]
        if not configs or configs[0]["data"]["WORKSPACE_PATH"] != "/app/workspace/current":
            problems.append("with git-sync WORKSPACE_PATH must be the checked-out tree, /app/workspace/current")
    scaled = [doc for doc in documents if doc.get("kind") == "ScaledObject"]
    if keda:
        if len(scaled) != 1 or scaled[0]["spec"]["scaleTargetRef"]["name"] != "worker":
            problems.append("the KEDA component must add one ScaledObject for worker")
        else:
            triggers = scaled[0]["spec"]["triggers"]
            if not any(t["type"] == "rabbitmq" and t["metadata"].get("queueName") == "workflows" for t in triggers):
                problems.append("the ScaledObject must scale on the RabbitMQ queue workflows")
        if worker is not None and "replicas" in worker["spec"]:
            problems.append("with KEDA, the worker Deployment must not set replicas (KEDA owns them)")
    elif scaled:
        problems.append("KEDA's ScaledObject belongs in the optional component only")
    return problems


# --------------------------------------------------------------------------------------------------
# Runner
# --------------------------------------------------------------------------------------------------


def check_caddy() -> list[str]:
    if shutil.which("caddy") is None:
        return ["caddy is not installed (bash scripts/system_packages.sh installs it)"]
    problems = []
    variants = {
        "public host": {"BIFROST_HOST": "bifrost.example.com", "ACME_EMAIL": "ops@example.com"},
        "loopback": {
            "BIFROST_HOST": "http://127.0.0.1:8080",
            "ACME_EMAIL": "ops@example.com",
            "API_UPSTREAMS": "127.0.0.1:9001 127.0.0.1:9002",
            "WS_UPSTREAMS": "127.0.0.1:9003",
            "CADDY_ADMIN": "off",
        },
    }
    for label, extra in variants.items():
        home = os.environ.get("HOME", tempfile.gettempdir())
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home, **extra}
        result = subprocess.run(
            ["caddy", "validate", "--config", str(CADDYFILE), "--adapter", "caddyfile"],
            capture_output=True, text=True, env=env, timeout=60, check=False,
        )  # fmt: skip
        if result.returncode != 0 or "Valid configuration" not in result.stdout + result.stderr:
            problems.append(f"caddy validate ({label}): {(result.stderr or result.stdout).strip()[-800:]}")
    return problems


def check_compose() -> list[str]:
    problems = []
    dev = load_yaml(DEV_COMPOSE)
    problems += [f"docker-compose.yml: {p}" for p in compose_schema_problems(dev, {})]
    env = read_env_file(PROD_ENV_EXAMPLE)
    prod = load_yaml(PROD_COMPOSE)
    problems += [f"compose.production.yml: {p}" for p in compose_schema_problems(prod, env)]
    problems += [f"compose.production.yml: {p}" for p in production_compose_problems(prod, env)]
    problems += production_env_problems(env)
    return problems


def check_kubernetes() -> list[str]:
    if shutil.which("kubectl") is None:
        return ["kubectl is not installed (bash scripts/system_packages.sh installs it)"]
    problems = []
    for name in KUSTOMIZATIONS:
        try:
            documents = kustomize(KUSTOMIZE_DIR / name)
        except RuntimeError as exc:
            problems.append(str(exc))
            continue
        problems += [f"{name}: {p}" for p in schema_problems_k8s(documents)]
        problems += [
            f"{name}: {p}"
            for p in manifest_problems(documents, keda=name.endswith("keda"), git_sync=name.endswith("git-sync"))
        ]
    problems += [f"secret.example.yaml: {p}" for p in schema_problems_k8s([load_yaml(SECRET_EXAMPLE)])]
    return problems


def check_github() -> list[str]:
    problems = []
    binary = Path(sys.executable).parent / "check-jsonschema"
    command = [str(binary)] if binary.exists() else [sys.executable, "-m", "check_jsonschema"]
    for path, schema in GITHUB_FILES:
        if not path.exists():
            problems.append(f"{path.relative_to(ROOT)} is missing")
            continue
        result = subprocess.run(
            [*command, "--builtin-schema", schema, str(path)], capture_output=True, text=True, timeout=120, check=False
        )
        if result.returncode != 0:
            problems.append(f"{path.relative_to(ROOT)} ({schema}): {(result.stdout + result.stderr).strip()[-800:]}")
    return problems


CHECKS = {
    "Caddyfile (caddy validate)": check_caddy,
    "compose files (Compose schema + production rules)": check_compose,
    "Kubernetes (kustomize + schemas + rules)": check_kubernetes,
    "GitHub workflow and Dependabot (check-jsonschema)": check_github,
}


def main() -> int:
    failed = False
    for label, check in CHECKS.items():
        try:
            problems = check()
        except Exception as exc:  # a crash is a failed check, reported like one
            problems = [f"{type(exc).__name__}: {exc}"]
        if problems:
            failed = True
            print(f"FAIL {label}")
            for problem in problems:
                print(f"     - {problem}")
        else:
            print(f"ok   {label}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
