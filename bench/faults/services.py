"""Private PostgreSQL, Redis and RabbitMQ instances that a fault scenario may stop, kill and restart.

Every instance lives under one temporary directory, listens on its own loopback port and is
torn down by `cleanup_all()` (registered with atexit by `run.py`). Nothing here touches the shared
services the test suite uses.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

_CLEANUPS: list = []


def register_cleanup(fn) -> None:
    _CLEANUPS.append(fn)


def cleanup_all() -> None:
    while _CLEANUPS:
        fn = _CLEANUPS.pop()
        try:
            fn()
        except Exception as exc:  # cleanup must go on
            print(f"  (cleanup: {type(exc).__name__}: {exc})")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_until(predicate, timeout: float, message: str, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {message}")
        time.sleep(interval)


def kill_group(proc: subprocess.Popen, timeout: float = 15, group_term: bool = True) -> None:
    """SIGTERM `proc` (its whole group unless group_term=False), then SIGKILL the group if anything lingers."""
    if proc.poll() is None:
        try:
            if group_term:
                os.killpg(proc.pid, signal.SIGTERM)
            else:
                proc.send_signal(signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
    try:  # orphans of a SIGKILLed parent keep the group alive
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


# --- PostgreSQL ----------------------------------------------------------------------------------


def _pg_bin() -> Path:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    if not candidates:
        raise RuntimeError("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin")
    return Path(candidates[0]).parent


class PrivatePostgres:
    """A throwaway cluster (trust auth, fsync off) owned by the `postgres` OS user when run as root."""

    def __init__(self, base: Path):
        self.dir = base / "pg"
        self.data = self.dir / "data"
        self.port = free_port()
        self.bin = _pg_bin()
        self.log = self.dir / "postgres.log"
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            pwd.getpwnam("postgres")
            self._as_user = ["runuser", "-u", "postgres", "--"]

    @property
    def url_base(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}"

    def _run(self, *argv: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*self._as_user, *argv], capture_output=True, text=True, timeout=timeout, check=True, cwd="/"
        )

    def init(self) -> PrivatePostgres:
        self.dir.mkdir(parents=True)
        if self._as_user:
            shutil.chown(self.dir, "postgres", "postgres")
        register_cleanup(self.destroy)
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync")
        return self

    def _opts(self) -> str:
        return (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
        )

    def start(self) -> None:
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", self._opts(), "-w", "start"
        )

    def stop(self, mode: str = "fast") -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def restart(self) -> None:
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", self._opts(),
            "-m", "fast", "-w", "restart",
        )  # fmt: skip

    def is_up(self) -> bool:
        return port_open(self.port)

    def destroy(self) -> None:
        if (self.data / "postmaster.pid").exists():
            try:
                self.stop("immediate")
            except Exception:
                pass
        shutil.rmtree(self.dir, ignore_errors=True)


# --- Redis ---------------------------------------------------------------------------------------


class PrivateRedis:
    def __init__(self, base: Path):
        self.dir = base / "redis"
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> PrivateRedis:
        if self.proc is None:
            self.dir.mkdir(parents=True, exist_ok=True)
            register_cleanup(self.destroy)
        log = open(self.dir / "redis.log", "a")  # noqa: SIM115  (the child owns it)
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--daemonize", "no", "--dir", str(self.dir)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        log.close()
        wait_until(lambda: port_open(self.port), 20, "the private Redis to listen")
        return self

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=15)

    def is_up(self) -> bool:
        return self.proc is not None and self.proc.poll() is None and port_open(self.port)

    def destroy(self) -> None:
        if self.proc is not None:
            kill_group(self.proc)
        shutil.rmtree(self.dir, ignore_errors=True)


# --- RabbitMQ ------------------------------------------------------------------------------------

RABBIT_BIN = Path("/usr/lib/rabbitmq/bin")


class PrivateRabbit:
    """A second RabbitMQ node with its own name, ports, mnesia dir and Erlang cookie (shared epmd)."""

    def __init__(self, base: Path, run_id: str):
        self.dir = base / "rabbit"
        self.node = f"bifrost-fault-{run_id}@localhost"
        self.port = free_port()
        self.dist_port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    def _env(self) -> dict:
        return {
            **os.environ,
            "HOME": str(self.dir / "home"),
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(self.dir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.dir / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.dir / "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(self.dir / "rabbitmq"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(self.dir / "advanced.config"),
            "RABBITMQ_SERVER_START_ARGS": f"-kernel inet_dist_listen_min {self.dist_port} "
            f"inet_dist_listen_max {self.dist_port}",
        }

    def start(self, timeout: float = 90) -> PrivateRabbit:
        if self.proc is None:
            for sub in ("home", "mnesia", "log"):
                (self.dir / sub).mkdir(parents=True, exist_ok=True)
            cookie = self.dir / "home" / ".erlang.cookie"
            cookie.write_text(os.urandom(16).hex().upper())
            cookie.chmod(0o400)
            (self.dir / "enabled_plugins").write_text("[].\n")
            register_cleanup(self.destroy)
        log = open(self.dir / "server.log", "a")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [str(RABBIT_BIN / "rabbitmq-server")], env=self._env(), cwd=self.dir, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        log.close()
        wait_until(
            lambda: port_open(self.port) or self.proc.poll() is not None, timeout, "the private RabbitMQ to listen", 0.5
        )
        if self.proc.poll() is not None:
            raise RuntimeError(f"private RabbitMQ exited; see {self.dir / 'server.log'}")
        return self

    def ctl(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(RABBIT_BIN / "rabbitmqctl"), "-n", self.node, *args],
            env=self._env(), capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip

    def stop(self) -> None:
        """The whole node goes away (as when the broker host or service dies)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.ctl("stop")
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            kill_group(self.proc)
        wait_until(lambda: not port_open(self.port), 20, "the private RabbitMQ to close its port")

    def is_up(self) -> bool:
        return self.proc is not None and self.proc.poll() is None and port_open(self.port)

    def destroy(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.ctl("stop", timeout=30)
            except Exception:
                pass
            kill_group(self.proc, timeout=20)
        shutil.rmtree(self.dir, ignore_errors=True)
