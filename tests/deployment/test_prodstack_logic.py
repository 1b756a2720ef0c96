"""The logic of the production-stack harness and the scale benchmarks, without servers (fast)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from tests.deployment import prodstack
from tests.deployment.prodstack import (
    TRIGGERERS,
    WORKERS,
    celery_env,
    component_commands,
    data_root,
    pg_bin_dir,
    traversable_by_others,
)

BENCH = Path(__file__).resolve().parents[2] / "bench"


def test_pg_bin_dir_picks_the_newest_complete_install(tmp_path):
    for major, files in (("13", ("postgres", "initdb")), ("16", ("postgres",)), ("15", ("postgres", "initdb"))):
        folder = tmp_path / major / "bin"
        folder.mkdir(parents=True)
        for name in files:
            (folder / name).write_text("")
    assert pg_bin_dir(tmp_path.glob("*/bin")) == tmp_path / "15" / "bin"  # 16 lacks initdb
    assert pg_bin_dir([]) is None


def test_traversable_by_others(tmp_path):
    inner = tmp_path / "a" / "b"
    inner.mkdir(parents=True)
    (tmp_path / "a").chmod(0o755)
    tmp_path.chmod(0o755)
    if traversable_by_others(tmp_path):  # pytest's base folder may itself be private
        assert traversable_by_others(inner)
    (tmp_path / "a").chmod(0o700)
    try:
        assert not traversable_by_others(inner)
    finally:
        (tmp_path / "a").chmod(0o755)


def test_data_root_falls_back_to_the_temp_dir_when_postgres_cannot_reach_the_repo(tmp_path):
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    chosen = data_root(("postgres", 1, 1), private / ".prodstack")
    try:
        assert private not in chosen.parents and oct(chosen.stat().st_mode & 0o777) == "0o755"
    finally:
        chosen.rmdir()
    here = data_root(None, tmp_path / ".prodstack")  # not root: always the preferred folder
    assert here.parent == tmp_path / ".prodstack"


def test_celery_env_points_everything_at_loopback():
    env = celery_env("postgresql+psycopg2://airflow@127.0.0.1:5433/airflow", "redis://127.0.0.1:6380/0")
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__CELERY__RESULT_BACKEND"] == "db+postgresql+psycopg2://airflow@127.0.0.1:5433/airflow"
    assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://127.0.0.1:")
    urls = [v for v in env.values() if "://" in v]
    assert urls and all("127.0.0.1" in v for v in urls)


def test_component_commands_two_workers_two_triggerers_distinct_hostnames():
    cmds = component_commands(sys.executable, capacity=50)
    assert set(cmds) == {"api-server", "scheduler", "dag-processor", *TRIGGERERS, *WORKERS}
    hostnames = [c[c.index("--celery-hostname") + 1] for name, c in cmds.items() if name in WORKERS]
    assert len(set(hostnames)) == 2
    assert all("--capacity" in cmds[t] and "50" in cmds[t] for t in TRIGGERERS)


def test_missing_packages_names_debian_packages(monkeypatch):
    monkeypatch.setattr(prodstack, "pg_bin_dir", lambda candidates=None: None)
    monkeypatch.setattr(prodstack.shutil, "which", lambda name: None)
    assert prodstack.missing_packages() == ["postgresql", "redis-server"]


def test_scale_bench_seed_records_match_the_sync_markers(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))
    import bench_catalog_scale as scale

    total = scale.make_catalog(tmp_path / "cat", 3)
    assert total > 0 and scale.make_catalog(tmp_path / "cat", 3) == total  # reused, not rewritten
    records = scale.seed_records(tmp_path / "cat")
    assert [r["user_defined"]["catalog_path"] for r in records] == [scale.track_rel(i) for i in range(3)]
    first = records[0]["user_defined"]
    path = tmp_path / "cat" / first["catalog_path"]
    assert first["catalog_size"] == path.stat().st_size and first["catalog_mtime"] == os.stat(path).st_mtime
    assert len(first["catalog_sha256"]) == 64 and records[0]["title"] == "track0000000"
    from airflow_provider_music.sync.plan import Local, is_current, record_of

    found = record_of({"id": 1, "state": 1, "title": records[0]["title"], "user_defined": first}, None)
    assert found is not None and is_current(found[1], Local(path.stat().st_size, path.stat().st_mtime))


@pytest.mark.parametrize("kind", ["riffusion", "acrcloud", "audioshake_jobs", "flowmusic"])
def test_triggerer_bench_kinds_build_their_sensor_trigger(kind, monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))
    import bench_triggerer as bt

    extra = {"bucket_id": 7} if kind == "acrcloud" else {}
    sensor = bt.sensor_for(kind, "123", extra, 30.0, 0)
    trigger = sensor.status_check.trigger(conn_id=sensor.conn_id, target=sensor.target(), poll_interval=30.0, timeout=60.0)
    classpath, kwargs = trigger.serialize()
    assert classpath.startswith("airflow_provider_music.triggers.")
    json.dumps(kwargs)  # JSON primitives only: what the trigger row stores
