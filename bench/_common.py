"""Shared helpers of the benchmarks: the emulator in its own process, results JSON, tables, machine info."""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
TOKEN = "emulator-token"
API_PATHS = {"riffusion": "/v1/riffusion/", "acrcloud": "/api/", "audioshake": "/"}


def machine() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = 0
    try:
        mem = int(Path("/proc/meminfo").read_text().split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "mem_mb": mem, "python": platform.python_version(),
            "platform": platform.platform()}


def write_results(name: str, data: dict[str, Any], out_dir: str | os.PathLike[str] | None = None) -> Path:
    folder = Path(out_dir) if out_dir else RESULTS
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    payload = {"benchmark": name, "machine": machine(), "time": time.strftime("%Y-%m-%dT%H:%M:%S"), **data}
    path.write_text(json.dumps(payload, indent=2, default=str))
    return path


def print_table(rows: list[dict[str, Any]], columns: list[str], title: str = "") -> None:
    def fmt(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
        return "" if value is None else str(value)

    cells = [[fmt(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) if cells else len(c) for i, c in enumerate(columns)]
    if title:
        print(f"\n{title}")
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))
    sys.stdout.flush()


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def peak_rss_mb() -> float:
    """Peak RSS of this process in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def current_rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1024.0 / 1024.0


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def bench_env(base_url: str | None = None) -> dict[str, str]:
    """Environment of a benchmark child process: an isolated AIRFLOW_HOME and the emulator connections."""
    env = dict(os.environ)
    env.setdefault("AIRFLOW_HOME", os.path.join(tempfile.gettempdir(), "music-bench-airflow-home"))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    if base_url:
        env.update(connection_env(base_url))
    return env


def connection_env(base_url: str) -> dict[str, str]:
    extras = {
        "riffusion": {},
        "acrcloud": {"identify_host": base_url, "access_key": "emulator-access-key",
                     "access_secret": "emulator-access-secret"},
        "audioshake": {"api": "jobs"},
    }
    return {
        f"AIRFLOW_CONN_{api.upper()}_DEFAULT": json.dumps(
            {"conn_type": api, "host": base_url + path, "password": TOKEN, "extra": extras[api]}
        )
        for api, path in API_PATHS.items()
    }


class EmulatorProcess:
    """``python -m airflow_provider_music.testing.emulator --port 0`` in its own process (loopback only)."""

    def __init__(self, *, job_seconds: float = 2.0, settings: dict[str, Any] | None = None) -> None:
        self.job_seconds = job_seconds
        self.settings = settings or {}
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""

    def __enter__(self) -> EmulatorProcess:
        cmd = [sys.executable, "-m", "airflow_provider_music.testing.emulator", "--host", "127.0.0.1",
               "--port", "0", "--job-seconds", str(self.job_seconds), "--log-level", "error"]
        for key, value in self.settings.items():
            cmd += ["--setting", f"{key}={json.dumps(value)}"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=bench_env(), cwd=str(ROOT))
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if "listening on" not in line:
            self.proc.kill()
            raise RuntimeError(f"emulator did not start: {line!r}")
        self.url = line.rsplit(" ", 1)[-1].strip()
        deadline = time.monotonic() + 30
        while True:
            try:
                self.call("GET", "/_emulator/health")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"})
        with urllib.request.urlopen(req, timeout=120) as resp:  # noqa: S310 - loopback emulator only
            raw = resp.read()
        return json.loads(raw) if raw.strip() else None

    def state(self) -> dict[str, Any]:
        return self.call("GET", "/_emulator/state")

    def reset(self) -> None:
        self.call("POST", "/_emulator/reset")

    def settings_patch(self, values: dict[str, Any]) -> None:
        self.call("PATCH", "/_emulator/settings", values)

    def cpu_seconds(self) -> float:
        """CPU seconds used so far by the emulator process (from /proc)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks


def total_requests(state: dict[str, Any], prefix: str = "") -> int:
    return sum(v for k, v in state["request_counts"].items() if k.split(" ", 1)[1].startswith(prefix))
