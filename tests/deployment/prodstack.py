"""The production stack for deployment tests: PostgreSQL and Redis from Debian's packages, each started on
loopback with its own data folder (under a git-ignored ``.prodstack/``) and stopped by PID, and Airflow with
CeleryExecutor: 2 Celery workers, 2 triggerers, scheduler, dag-processor and api-server.

Run with ``make test-prodstack`` (it installs ``postgresql`` and ``redis-server`` with apt-get and the
``prodstack`` extra: apache-airflow-providers-celery, psycopg2-binary).
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tests.deployment.harness import Deployment, free_port

ROOT = Path(__file__).resolve().parents[2]
STACK_ROOT = Path(os.environ.get("PRODSTACK_ROOT", ROOT / ".prodstack"))
PG_USER = "airflow"
WORKERS = ("worker-1", "worker-2")
TRIGGERERS = ("triggerer-1", "triggerer-2")


# ---- locating the Debian binaries ---------------------------------------------------------------------
def pg_bin_dir(candidates: Iterable[Path] | None = None) -> Path | None:
    """The newest ``/usr/lib/postgresql/<major>/bin`` holding ``postgres`` and ``initdb`` (None: not installed)."""
    dirs = list(candidates) if candidates is not None else list(Path("/usr/lib/postgresql").glob("*/bin"))

    def major(path: Path) -> float:
        try:
            return float(path.parent.name)
        except ValueError:
            return -1.0

    for folder in sorted(dirs, key=major, reverse=True):
        if (folder / "postgres").exists() and (folder / "initdb").exists():
            return folder
    return None


def missing_packages() -> list[str]:
    """Debian packages the stack needs that are not installed (``apt-get install -y`` them)."""
    missing = []
    if pg_bin_dir() is None:
        missing.append("postgresql")
    if shutil.which("redis-server") is None:
        missing.append("redis-server")
    return missing


# ---- who runs PostgreSQL -----------------------------------------------------------------------------------
def traversable_by_others(path: Path) -> bool:
    """True when every existing ancestor of ``path`` lets other users through (``o+x``)."""
    for folder in [path, *path.parents]:
        if folder.exists() and not folder.stat().st_mode & stat.S_IXOTH:
            return False
    return True


def postgres_account() -> tuple[str, int, int] | None:
    """(name, uid, gid) to run PostgreSQL as: the ``postgres`` account when we are root (the server refuses
    to run as root), None (the current user) otherwise."""
    if os.geteuid() != 0:
        return None
    entry = pwd.getpwnam("postgres")  # created by Debian's postgresql package
    return entry.pw_name, entry.pw_uid, entry.pw_gid


def data_root(account: tuple[str, int, int] | None, preferred: Path = STACK_ROOT) -> Path:
    """Where a run's data folders go: ``preferred`` unless PostgreSQL's account cannot reach it (a clone
    under ``/root``), then a private folder in the system temp dir."""
    if account is None or traversable_by_others(preferred):
        preferred.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix="run-", dir=preferred))
    else:
        folder = Path(tempfile.mkdtemp(prefix="prodstack-"))
    folder.chmod(0o755)  # PostgreSQL's account passes through to its own (0700) folder
    return folder


# ---- servers ----------------------------------------------------------------------------------------------
class Service:
    """A server process started by us, in its own session, stopped by PID (SIGTERM, then SIGKILL)."""

    name = "service"
    stop_signal = signal.SIGTERM

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def spawn(self, cmd: list[str], account: tuple[str, int, int] | None = None) -> None:
        log = open(self.folder / f"{self.name}.log", "ab")  # noqa: SIM115 - closed with the process
        extra: dict[str, Any] = {"user": account[1], "group": account[2]} if account else {}
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                     cwd=self.folder, **extra)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(self.stop_signal)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def log_tail(self, chars: int = 2000) -> str:
        path = self.folder / f"{self.name}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""


class Postgres(Service):
    name = "postgres"
    stop_signal = signal.SIGINT  # "fast shutdown": SIGTERM would wait for every client to disconnect

    def __init__(self, folder: Path, account: tuple[str, int, int] | None) -> None:
        super().__init__(folder)
        self.account = account
        self.bin = pg_bin_dir()
        if self.bin is None:
            raise RuntimeError("PostgreSQL is not installed: apt-get install -y postgresql")

    def _as_owner(self, cmd: list[str]) -> None:
        extra: dict[str, Any] = {"user": self.account[1], "group": self.account[2]} if self.account else {}
        done = subprocess.run(cmd, capture_output=True, timeout=120, cwd=self.folder, **extra)
        if done.returncode:
            raise RuntimeError(f"{cmd[0]} failed ({done.returncode}): {done.stderr.decode(errors='replace')[-2000:]}")

    def start(self) -> None:
        assert self.bin is not None
        self.folder.mkdir(parents=True, exist_ok=True)
        if self.account:
            os.chown(self.folder, self.account[1], self.account[2])
            self.folder.chmod(0o700)
        data, sockets = self.folder / "data", self.folder / "sockets"
        sockets.mkdir(exist_ok=True)
        if self.account:
            os.chown(sockets, self.account[1], self.account[2])
        self._as_owner([str(self.bin / "initdb"), "-D", str(data), "-U", PG_USER, "--auth=trust", "-E", "UTF8",
                        "--no-sync", "--locale=C"])
        self.spawn([str(self.bin / "postgres"), "-D", str(data), "-h", "127.0.0.1", "-p", str(self.port),
                    "-k", str(sockets), "-c", "fsync=off", "-c", "synchronous_commit=off",
                    "-c", "full_page_writes=off", "-c", "max_connections=400"], self.account)
        deadline = time.monotonic() + 60
        while subprocess.run([str(self.bin / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
                             capture_output=True).returncode != 0:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"postgres exited: {self.log_tail()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"postgres not ready: {self.log_tail()}")
            time.sleep(0.3)
        subprocess.run([str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", PG_USER,
                        "airflow"], check=True, capture_output=True, timeout=60)

    @property
    def url(self) -> str:
        return f"postgresql+psycopg2://{PG_USER}@127.0.0.1:{self.port}/airflow"

    def dump(self) -> str:
        """Every row of the metadata database as text (``pg_dump --data-only``)."""
        assert self.bin is not None
        out = subprocess.run([str(self.bin / "pg_dump"), "-h", "127.0.0.1", "-p", str(self.port), "-U", PG_USER,
                              "--data-only", "airflow"], check=True, capture_output=True, timeout=300)
        return out.stdout.decode("utf-8", errors="replace")

    def query(self, sql: str) -> list[list[str]]:
        assert self.bin is not None
        out = subprocess.run([str(self.bin.parent / "bin" / "psql"), "-h", "127.0.0.1", "-p", str(self.port),
                              "-U", PG_USER, "-d", "airflow", "-At", "-F", "\t", "-c", sql],
                             check=True, capture_output=True, timeout=60, text=True)
        return [line.split("\t") for line in out.stdout.splitlines() if line]


class Redis(Service):
    name = "redis"

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.spawn(["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.folder),
                    "--save", "", "--appendonly", "no", "--daemonize", "no", "--protected-mode", "yes"])
        deadline = time.monotonic() + 30
        while True:
            try:
                import socket

                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"redis exited: {self.log_tail()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"redis not ready: {self.log_tail()}")
            time.sleep(0.2)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


# ---- the Airflow deployment on top -----------------------------------------------------------------------
def celery_env(db_url: str, broker_url: str, *, concurrency: int = 8) -> dict[str, str]:
    """Airflow settings of the CeleryExecutor stack (pure: tested without servers)."""
    return {
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CORE__PARALLELISM": "64",
        "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "64",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": db_url,
        "AIRFLOW__DATABASE__SQL_ALCHEMY_POOL_SIZE": "3",
        # bursts of resumed tasks (16 worker slots calling the execution API at once) outgrew 3 + 10 connections
        # in the api-server: requests then waited 30 s for a connection and failed (max_connections is 400)
        "AIRFLOW__DATABASE__SQL_ALCHEMY_MAX_OVERFLOW": "30",
        "AIRFLOW__CELERY__BROKER_URL": broker_url,
        "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + db_url,
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(concurrency),
        "AIRFLOW__CELERY__SYNC_PARALLELISM": "2",
        "AIRFLOW__API__MAXIMUM_PAGE_LIMIT": "1000",
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20",
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
    }


def component_commands(python: str, *, capacity: int) -> dict[str, list[str]]:
    """Every Airflow process of the stack: api-server, scheduler, dag-processor, 2 triggerers, 2 workers."""
    airflow = [python, "-m", "airflow"]
    cmds = {name: [*airflow, name] for name in ("api-server", "scheduler", "dag-processor")}
    for name in TRIGGERERS:
        cmds[name] = [*airflow, "triggerer", "--capacity", str(capacity), "--skip-serve-logs"]
    for name in WORKERS:
        cmds[name] = [*airflow, "celery", "worker", "--celery-hostname", f"{name}@%h", "--skip-serve-logs",
                      "--without-gossip", "--without-mingle"]
    return cmds


class ProdStack(Deployment):
    """:class:`Deployment` on PostgreSQL + Redis with CeleryExecutor, 2 workers and 2 triggerers."""

    #: one emulated Riffusion account composing 50 songs at once (the default allows 6 in flight, as a real
    #: one); a start-up setting, so that ``POST /_emulator/reset`` keeps it
    emulator_args = ("--setting", "riffusion.max_jobs=60")

    def __init__(self, root: Path, *, dag_files: list[Path], token: str, capacity: int = 30,
                 extra_env: dict[str, str] | None = None) -> None:
        super().__init__(root, dag_files=dag_files, token=token, extra_env=extra_env)
        self.account = postgres_account()
        self.data = data_root(self.account)
        self.postgres = Postgres(self.data / "postgres", self.account)
        self.redis = Redis(self.data / "redis")
        self.capacity = capacity

    def stack_env(self) -> dict[str, str]:
        return celery_env(self.postgres.url, self.redis.url)

    def components(self) -> dict[str, list[str]]:
        return component_commands(sys.executable, capacity=self.capacity)

    def start(self, timeout: float = 240) -> None:
        self.redis.start()
        self.postgres.start()
        super().start(timeout)

    def stop(self) -> None:
        try:
            super().stop()
        finally:
            self.postgres.stop()
            self.redis.stop()
            shutil.rmtree(self.data, ignore_errors=True)

    # ---- which process is which ---------------------------------------------------------------------
    def component_of(self, pid: int) -> str | None:
        """The component (e.g. ``worker-2``) whose process tree holds ``pid``."""
        import psutil

        roots = {proc.pid: name for name, proc in self.procs.items()}
        try:
            proc: Any = psutil.Process(pid)
        except psutil.NoSuchProcess:
            return None
        while proc is not None:
            if proc.pid in roots:
                return roots[proc.pid]
            proc = proc.parent()
        return None

    def triggers_by_triggerer(self) -> dict[str, int]:
        """Trigger rows per triggerer job id (``"none"``: not assigned)."""
        rows = self.postgres.query("SELECT coalesce(triggerer_id::text, 'none'), count(*) FROM trigger GROUP BY 1")
        return {job: int(n) for job, n in rows}
