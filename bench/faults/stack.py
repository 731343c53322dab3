"""A complete Bifrost (web + workers) running against the private services of one fault run."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import requests

from faults.services import PrivatePostgres, PrivateRabbit, PrivateRedis, free_port, kill_group, register_cleanup

ROOT = Path(__file__).resolve().parents[2]
WORKSPACE = Path(__file__).resolve().parent / "workspace"
PY = sys.executable
ADMIN_EMAIL = "faults@bifrost.local"
ADMIN_PASSWORD = "faults-password-not-secret"


class Process:
    """A Bifrost process in its own session (so its whole group can be killed)."""

    def __init__(self, name: str, argv: list[str], env: dict, log_dir: Path):
        self.name = name
        self.argv = argv
        self.env = env
        self.log_path = log_dir / f"{name}.log"
        self.proc: subprocess.Popen | None = None
        register_cleanup(self.stop)

    def start(self) -> Process:
        log = open(self.log_path, "a")  # noqa: SIM115
        self.proc = subprocess.Popen(
            self.argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        return self

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def children(self) -> list[int]:
        try:
            return [c.pid for c in psutil.Process(self.proc.pid).children()]
        except psutil.NoSuchProcess:
            return []

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.proc is not None:  # warm shutdown of the main process first (Celery waits for its pool)
            kill_group(self.proc, timeout=20, group_term=False)


class Stack:
    def __init__(self, base: Path, pg: PrivatePostgres, redis: PrivateRedis, rabbit: PrivateRabbit):
        self.base = base
        self.pg, self.redis, self.rabbit = pg, redis, rabbit
        self.logs = base / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "bifrost_site.settings",
            "ENVIRONMENT": "testing",
            "DEBUG": "false",
            "DEV_AUTH_BYPASS": "false",
            "DATABASE_URL": f"{pg.url_base}/bifrost_faults",
            "REDIS_URL": redis.url,
            "RABBITMQ_URL": rabbit.url,
            "QUEUE_PREFIX": "",
            "REDIS_KEY_PREFIX": "faults",
            "WORKSPACE_PATH": str(WORKSPACE),
            "WORKSPACE_WATCH": "false",
            "DISCOVER_ON_WORKER_START": "false",
            "LOG_LEVEL": "INFO",
            "LOGIN_THROTTLE_RATE": "100000/min",
            "RUN_RATE_PER_USER": "1000000/min",
            "SYNC_WAIT_SECONDS": "20",
            "PYTHONPATH": str(ROOT),
            "PYTHONUNBUFFERED": "1",
        }
        self.web: Process | None = None
        self.proxy: Process | None = None
        self.base_url = ""
        self.ws_base_url = ""
        self.workers: list[Process] = []
        # web topology (issue 18, item 18): "daphne" (one daphne for HTTP + WebSocket, `make run`), "split"
        # (granian for HTTP + daphne for WebSockets, production's servers) or "proxy" (split behind Caddy with
        # deploy/Caddyfile, production's topology). All three start through docker/start-web.sh, so they run
        # the production listen backlog and backpressure.
        self.web_mode = "daphne"
        self.web_workers = 1
        self.web_backlog: str | None = None  # None: start-web.sh's default

    # -- setup ----------------------------------------------------------------------------
    def manage(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [PY, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=timeout
        )
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stderr[-3000:]}")
        return result

    def prepare(self) -> None:
        self.manage("ensure_database")
        self.manage("migrate", "--noinput")
        self.manage("discover_workflows")
        self.manage(
            "shell",
            "-c",
            "from accounts.models import User\n"
            f"User.objects.filter(email='{ADMIN_EMAIL}').exists() or "
            f"User.objects.create_superuser('{ADMIN_EMAIL}', '{ADMIN_PASSWORD}')",
        )

    def setup_django(self) -> None:
        """The orchestrator reads rows through the ORM, on the private database."""
        os.environ.update(self.env)
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()

    # -- processes ------------------------------------------------------------------------
    def start_web(self) -> str:
        port = free_port()
        env = {
            **self.env,
            "PATH": f"{Path(PY).parent}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
            "WEB_HOST": "127.0.0.1",
            "WEB_PORT": str(port),
            "RUN_MIGRATIONS": "0",
            "RUN_SETUP": "0",
            "WEB_SERVER": "daphne" if self.web_mode == "daphne" else "split",
            "WEB_WORKERS": str(self.web_workers),
        }
        if self.web_backlog is not None:
            env["WEB_BACKLOG"] = self.web_backlog
        ws_port = port
        if self.web_mode != "daphne":
            ws_port = free_port()
            env["WS_PORT"] = str(ws_port)
        self.web = Process("web", ["sh", str(ROOT / "docker" / "start-web.sh")], env, self.logs).start()
        self.base_url = f"http://127.0.0.1:{port}"
        self.ws_base_url = f"http://127.0.0.1:{ws_port}"
        self._wait_live(self.base_url, self.web)
        if self.web_mode != "daphne":
            self._wait_live(self.ws_base_url, self.web)
        if self.web_mode == "proxy":
            proxy_port = free_port()
            caddy_home = self.base / "caddy"
            caddy_home.mkdir(exist_ok=True)
            proxy_env = {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "HOME": str(caddy_home),
                "XDG_DATA_HOME": str(caddy_home),
                "XDG_CONFIG_HOME": str(caddy_home),
                "BIFROST_HOST": f"http://127.0.0.1:{proxy_port}",
                "ACME_EMAIL": "faults@example.com",
                "API_UPSTREAMS": f"127.0.0.1:{port}",
                "WS_UPSTREAMS": f"127.0.0.1:{ws_port}",
                "CADDY_ADMIN": "off",
            }
            self.proxy = Process(
                "proxy",
                ["caddy", "run", "--config", str(ROOT / "deploy" / "Caddyfile"), "--adapter", "caddyfile"],
                proxy_env, self.logs,
            ).start()  # fmt: skip
            self.base_url = self.ws_base_url = f"http://127.0.0.1:{proxy_port}"
            self._wait_live(self.base_url, self.proxy)
        return self.base_url

    def _wait_live(self, url: str, process: Process) -> None:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{url}/health/live", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            if time.monotonic() > deadline or not process.alive():
                raise RuntimeError(f"{process.name} did not start; see {process.log_path}")
            time.sleep(0.3)

    def start_worker(self, name: str = "worker1", concurrency: int = 4, wait: bool = True) -> Process:
        worker = Process(
            name,
            [PY, "-m", "celery", "-A", "bifrost_site", "worker", "-P", "prefork", "-c", str(concurrency),
             "-Q", "workflows,workspace,default", "-n", f"{name}@%h", "--without-mingle", "--without-gossip",
             "-l", "INFO"],
            self.env, self.logs,
        )  # fmt: skip
        offset = len(worker.log_text())
        worker.start()
        self.workers.append(worker)
        if wait:
            self.wait_worker_ready(worker, offset)
        return worker

    def wait_worker_ready(self, worker: Process, offset: int = 0, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if " ready." in worker.log_text()[offset:]:
                return
            if not worker.alive():
                break
            time.sleep(0.3)
        raise RuntimeError(f"{worker.name} did not become ready; see {worker.log_path}")

    def stop_workers(self) -> None:
        for worker in self.workers:
            worker.stop()
        self.workers.clear()

    def stop_web(self) -> None:
        if self.proxy is not None:
            self.proxy.stop()
            self.proxy = None
        if self.web is not None:
            self.web.stop()
            self.web = None

    def stop_all(self) -> None:
        self.stop_workers()
        self.stop_web()

    # -- HTTP -----------------------------------------------------------------------------
    def session(self) -> requests.Session:
        session = requests.Session()
        response = session.post(
            f"{self.base_url}/auth/login", data={"username": ADMIN_EMAIL, "password": ADMIN_PASSWORD}, timeout=30
        )
        response.raise_for_status()
        session.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
        return session

    def token(self) -> str:
        return self.session().headers["Authorization"].split()[1]
