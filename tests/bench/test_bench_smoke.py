"""Smoke runs of the benchmark scripts (``--smoke``: seconds each) so they keep working in ``make test``.

Nothing is asserted about speed: only that each script runs, prints its table and writes its JSON with the
expected shape. Budget: about 40 s for the four together on 2 cores (under 60 s with other test runs).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def run_bench(name: str, tmp_path: Path) -> dict:
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / f"bench_{name}.py"), "--smoke", "--out", str(tmp_path)],
                          capture_output=True, text=True, cwd=str(ROOT), timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "wrote" in proc.stdout
    return json.loads((tmp_path / f"bench_{name}_smoke.json").read_text())


def test_bench_import_smoke(tmp_path):
    result = run_bench("import", tmp_path)
    row = result["rows"][0]
    assert row["forbidden_imported"] == "-"
    assert row["median_ms"] > 0 and result["machine"]["cores"]


def test_bench_wait_smoke(tmp_path):
    result = run_bench("wait", tmp_path)
    rows = {r["mode"]: r for r in result["rows"]}
    assert set(rows) == {"triggers", "sensors"}
    for row in rows.values():
        assert row["ok"] == row["n"] == 5
        assert row["requests"] > 0 and row["peak_rss_mb"] > 0
    assert rows["triggers"]["tcp_conns"] <= 5  # pooled


def test_bench_upload_smoke(tmp_path):
    result = run_bench("upload", tmp_path)
    cases = {r["case"] for r in result["rows"]}
    assert cases == {"riffusion upload-audio", "acrcloud bucket file"}  # one raw and one multipart hook path
    assert all(r["hook_MBps"] > 0 and r["curl_MBps"] > 0 for r in result["rows"])


def test_bench_catalog_sync_smoke(tmp_path):
    result = run_bench("catalog_sync", tmp_path)
    rows = result["rows"]
    noop = next(r for r in rows if r["run"] == "no-op re-sync")
    assert noop["uploads"] == 0 and noop["read_bytes"] == 0 and noop["list_calls"] == noop["min_list_calls"]
    changed = next(r for r in rows if r["run"] == "1% changed")
    assert changed["uploads"] == changed["min_uploads"] == 1
    for row in rows:  # every new or changed track is read exactly once (hash + upload / fingerprint)
        assert row["read_bytes"] == row["min_read_bytes"], row
