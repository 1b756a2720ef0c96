"""Fault matrix: every operator and sensor, sync and deferrable, against the emulator's fault injection.

A cell is ``(subject, mode, fault)``. Every cell asserts

* the outcome: success after retries, or one specific error class (the configured bound: ``retry_limit`` 5,
  a short ``timeout`` for jobs that never finish);
* the request counts: every create (song, upload, bucket file, scan, job, task) reached the API exactly as
  often as expected - never twice;
* that no partial output (``*.part``) remains in the destination, and every output file is complete.

Read faults hit the JSON GETs (status polls, listings); in deferrable mode they are armed after the task
deferred, so they hit the trigger's async path. Create faults hit the creating POST, before the API
processes it (503, 429: safe to resend) or after (the work is done but the answer is lost). Timing is
never asserted: retry waits are recorded by ``instant_retries``; only the emulator's job clock is real.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowSensorTimeout, TaskDeferred

from airflow_provider_music import core
from airflow_provider_music.core import (
    ApiConnectionError,
    JobTimeoutError,
    ServerError,
)
from airflow_provider_music.hooks.acrcloud import AcrCloudHook
from airflow_provider_music.hooks.audioshake import AudioShakeHook
from airflow_provider_music.hooks.audioshake_api import LostAnswerError as ShakeLostAnswerError
from airflow_provider_music.hooks.riffusion import (
    RiffusionAccountPendingError,
    RiffusionHook,
    RiffusionLostAnswerError,
)
from airflow_provider_music.operators.acrcloud import (
    AcrCloudDumpBucketOperator,
    AcrCloudScanFileOperator,
    AcrCloudUploadFileOperator,
)
from airflow_provider_music.operators.acrcloud_sync import AcrCloudCatalogSyncOperator
from airflow_provider_music.operators.audioshake import AudioShakeStemSeparationOperator
from airflow_provider_music.operators.riffusion import (
    RiffusionComposeOperator,
    RiffusionDownloadOperator,
    RiffusionUploadAudioOperator,
)
from airflow_provider_music.sensors.acrcloud import AcrCloudFileStateSensor
from airflow_provider_music.sensors.audioshake import AudioShakeJobSensor
from airflow_provider_music.sensors.riffusion import RiffusionSongSensor, RiffusionUploadAudioSensor
from airflow_provider_music.testing.audio import sine_wav
from airflow_provider_music.testing.emulator import connection_json
from tests.conftest import FakeTaskStateStore

pytestmark = pytest.mark.integration

JOB_SECONDS = 0.15
POLL = 0.03
#: JSON GETs of each API (status polls and listings; not the binary downloads).
JSON_GETS = {
    "riffusion": r"^/v1/riffusion/(?!music/download)",
    "acrcloud": r"^/api/(?!buckets/\d+/down/)",
    "audioshake": r"^/(job|tasks)/",
}
#: Binary downloads of each API.
DOWNLOADS = {"riffusion": r"^/_cdn/riffusion/", "acrcloud": r"^/api/buckets/\d+/down/", "audioshake": r"^/files/"}
HTML = "<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1></body></html>"


# --------------------------------------------------------------------------------------------------
# Subjects: what to run, what it creates
# --------------------------------------------------------------------------------------------------
@dataclass
class Env:
    emu: Any
    tmp: Any
    ctx: dict[str, Any]
    deferrable: bool
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def dest(self):
        return self.tmp / "out"


@dataclass
class Subject:
    api: str
    kind: str  # "operator" | "sensor"
    build: Callable[[Env], Any]  # -> operator / sensor (setup done here, before faults are armed)
    #: {regex over "POST <route template>": processed count expected on success}
    creates: dict[str, int] = field(default_factory=dict)
    create_path: str | None = None  # regex of the creating POST (create faults)
    #: outcome of a create whose answer was lost: None = recovered (success), else the error classes
    lost_create_error: tuple[type[Exception], ...] | None = None
    downloads: bool = False
    never_finishes: dict[str, Any] = field(default_factory=dict)  # emulator settings
    can_defer: bool = True


def wav_file(env: Env, name: str = "track.wav"):
    path = env.tmp / name
    if not path.exists():
        path.write_bytes(sine_wav(0.2, freq=330, sample_rate=8000))
    return path


def acr_bucket(env: Env) -> int:
    if "bucket" not in env.data:
        env.data["bucket"] = AcrCloudHook().create_bucket("night", region="eu-west-1")["id"]
    return env.data["bucket"]


def wait_done(check: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        result = check()
        if result.done:
            return result
        time.sleep(0.02)
    raise AssertionError("setup job did not finish")


def _riffusion_download(env: Env) -> Any:
    hook = RiffusionHook()
    ids = hook.create_prompt("calm piano", reply_ref="setup")
    result = wait_done(lambda: hook.song_status(ids))
    return RiffusionDownloadOperator(task_id="dl", song_ids=result.payload["song_ids"], destination=str(env.dest))


def _catalog(env: Env) -> Any:
    root = env.tmp / "catalog"
    root.mkdir(exist_ok=True)
    for n in range(2):
        (root / f"t{n}.wav").write_bytes(sine_wav(0.2, freq=200 + 50 * n, sample_rate=8000))
    return AcrCloudCatalogSyncOperator(
        task_id="sync", catalog=str(root), bucket_id=acr_bucket(env), concurrency=2, poll_interval=POLL,
        timeout=5, deferrable=env.deferrable, progress_interval=60,
    )


def _file_sensor(env: Env) -> Any:
    rec = AcrCloudHook().upload_file(acr_bucket(env), data_type="audio", source=str(wav_file(env)))
    return AcrCloudFileStateSensor(task_id="ready", bucket_id=acr_bucket(env), ids=[rec["id"]])


def _song_sensor(env: Env) -> Any:
    return RiffusionSongSensor(task_id="songs", job_ids=RiffusionHook().create_prompt("x", reply_ref="sensor"))


def _upload_sensor(env: Env) -> Any:
    return RiffusionUploadAudioSensor(task_id="up", upload_id=RiffusionHook().upload_audio(str(wav_file(env)))["id"])


def _shake_sensor(env: Env) -> Any:
    jobs = AudioShakeHook().jobs
    asset = jobs.upload_file(str(wav_file(env)))["id"]
    return AudioShakeJobSensor(task_id="stems", job_ids={"vocals": jobs.create_job(asset, name="vocals", format="wav")["id"]})


def _stems(env: Env) -> Any:
    return AudioShakeStemSeparationOperator(
        task_id="sep", source=str(wav_file(env)), stems=["vocals", "drums"], destination=str(env.dest),
        poll_interval=POLL, timeout=5, deferrable=env.deferrable,
    )


LOST = (ServerError, ApiConnectionError)
SUBJECTS: dict[str, Subject] = {
    "riffusion-compose": Subject(
        "riffusion", "operator",
        lambda e: RiffusionComposeOperator(task_id="compose", prompt="night drive", poll_interval=POLL, timeout=5,
                                           deferrable=e.deferrable),
        creates={r"/music/create-prompt$": 1}, create_path=r"/music/create-prompt$",
        never_finishes={"riffusion.job_seconds": 1e6},
    ),
    "riffusion-upload": Subject(
        "riffusion", "operator",
        lambda e: RiffusionUploadAudioOperator(task_id="upload", source=str(wav_file(e)), poll_interval=POLL, timeout=5,
                                               deferrable=e.deferrable),
        creates={r"/music/upload-audio/?$": 1}, create_path=r"/music/upload-audio/?$",
        lost_create_error=(RiffusionLostAnswerError,),
        never_finishes={"riffusion.upload_outcome": "pending"},
    ),
    "riffusion-download": Subject("riffusion", "operator", _riffusion_download, downloads=True, can_defer=False),
    "riffusion-song-sensor": Subject("riffusion", "sensor", _song_sensor,
                                     never_finishes={"riffusion.job_seconds": 1e6}),
    "riffusion-upload-sensor": Subject("riffusion", "sensor", _upload_sensor,
                                       never_finishes={"riffusion.upload_outcome": "pending"}),
    "acrcloud-upload": Subject(
        "acrcloud", "operator",
        lambda e: AcrCloudUploadFileOperator(task_id="fp", bucket_id=acr_bucket(e), source=str(wav_file(e)),
                                             title="Track", poll_interval=POLL, timeout=5, deferrable=e.deferrable),
        creates={r"/api/buckets/\{bucket_id\}/files$": 1}, create_path=r"^/api/buckets/\d+/files$",
        never_finishes={"acrcloud.job_seconds": 1e6},
    ),
    "acrcloud-scan": Subject(
        "acrcloud", "operator",
        lambda e: AcrCloudScanFileOperator(task_id="scan", source=str(wav_file(e)), buckets=[acr_bucket(e)],
                                           poll_interval=POLL, timeout=5, deferrable=e.deferrable),
        creates={r"/api/fs-containers/\{cid\}/files$": 1, r"/api/fs-containers$": 1},
        create_path=r"^/api/fs-containers/\d+/files$", never_finishes={"acrcloud.job_seconds": 1e6},
    ),
    "acrcloud-dump": Subject(
        "acrcloud", "operator",
        lambda e: AcrCloudDumpBucketOperator(task_id="dump", bucket_id=acr_bucket(e), destination=str(e.dest) + "/",
                                             poll_interval=POLL, timeout=5, deferrable=e.deferrable),
        downloads=True, never_finishes={"acrcloud.job_seconds": 1e6},
    ),
    "acrcloud-catalog-sync": Subject(
        "acrcloud", "operator", _catalog,
        creates={r"/api/buckets/\{bucket_id\}/files$": 2}, create_path=r"^/api/buckets/\d+/files$",
        never_finishes={"acrcloud.job_seconds": 1e6},
    ),
    "acrcloud-file-sensor": Subject("acrcloud", "sensor", _file_sensor, never_finishes={"acrcloud.job_seconds": 1e6}),
    "audioshake-jobs": Subject(
        "audioshake", "operator", _stems, creates={r"/upload/?$": 1, r"/job/?$": 2}, create_path=r"^/job/?$",
        lost_create_error=(ShakeLostAnswerError,), downloads=True, never_finishes={"audioshake.job_seconds": 1e6},
    ),
    "audioshake-tasks": Subject(
        "audioshake", "operator", _stems, creates={r"/assets$": 1, r"/tasks$": 1}, create_path=r"^/tasks$",
        downloads=True, never_finishes={"audioshake.job_seconds": 1e6},
    ),
    "audioshake-sensor": Subject("audioshake", "sensor", _shake_sensor, never_finishes={"audioshake.job_seconds": 1e6}),
}
SHAKE_API = {"audioshake-tasks": "tasks"}


# --------------------------------------------------------------------------------------------------
# Faults
# --------------------------------------------------------------------------------------------------
@dataclass
class Fault:
    rules: Callable[[Subject], list[dict[str, Any]]]
    applies: Callable[[Subject], bool] = lambda s: True
    extras: dict[str, Any] = field(default_factory=dict)  # connection extras for the cell
    when: str = "wait"  # "wait": armed when waiting starts (after deferral); "start": before execute


def _reads(**rule: Any) -> Callable[[Subject], list[dict[str, Any]]]:
    return lambda s: [{"path": JSON_GETS[s.api], "method": "GET", **rule}]


def _creates(**rule: Any) -> Callable[[Subject], list[dict[str, Any]]]:
    return lambda s: [{"path": s.create_path, "method": "POST", **rule}]


FAULTS: dict[str, Fault] = {
    "5xx-burst": Fault(lambda s: [{"path": JSON_GETS[s.api], "method": "GET", "status": code, "times": 1}
                                  for code in (500, 502, 503)]),
    "429-retry-after": Fault(_reads(status=429, retry_after="3", times=3)),
    "429-no-retry-after": Fault(_reads(status=429, times=3)),
    "drop-mid-body": Fault(_reads(drop=True, times=2)),
    "slower-than-read-timeout": Fault(_reads(latency=0.5, times=2), extras={"timeout": 0.2}),
    "html-error-page": Fault(_reads(status=502, body=HTML, content_type="text/html", times=2)),
    "truncated-json": Fault(_reads(status=200, body='{"data": [{"id": 1, "sta', times=2)),
    "download-drop-mid-body": Fault(lambda s: [{"path": DOWNLOADS[s.api], "method": "GET", "drop": True, "times": 2}],
                                    applies=lambda s: s.downloads),
    "596-pending-error": Fault(lambda s: [{"path": r"^/v1/riffusion/", "status": 596,
                                           "body": json.dumps({"error": "pending error"})}],
                               applies=lambda s: s.api == "riffusion"),
    "create-503": Fault(_creates(status=503, times=2), applies=lambda s: bool(s.create_path), when="start"),
    "create-429-storm": Fault(_creates(status=429, retry_after="1", times=4), applies=lambda s: bool(s.create_path),
                              when="start"),
    "create-answer-lost-5xx": Fault(_creates(status=502, after=True, times=1), applies=lambda s: bool(s.create_path),
                                    when="start"),
    "create-answer-lost-drop": Fault(_creates(drop=True, after=True, times=1), applies=lambda s: bool(s.create_path),
                                     when="start"),
    "never-finishes": Fault(lambda s: [], applies=lambda s: bool(s.never_finishes), when="start"),
}


def _connections(emu, monkeypatch, subject_id: str, extras: dict[str, Any]) -> None:
    common = {"retry_limit": 5, **extras}
    monkeypatch.setenv("AIRFLOW_CONN_RIFFUSION_DEFAULT", emu.connection("riffusion", **common))
    monkeypatch.setenv("AIRFLOW_CONN_ACRCLOUD_DEFAULT", emu.connection("acrcloud", **common))
    api = SHAKE_API.get(subject_id, "jobs")
    monkeypatch.setenv("AIRFLOW_CONN_AUDIOSHAKE_DEFAULT",
                       connection_json("audioshake", emu.url, token=emu.token, extra={"api": api, **common}))


async def _first_event(trigger) -> dict[str, Any]:
    async for event in trigger.run():
        return event.payload
    raise AssertionError("trigger ended without an event")


def _drive(task: Any, ctx: dict[str, Any], arm: Callable[[], None]) -> Any:
    """Run like a worker (+ triggerer): execute; on deferral arm the faults, run the trigger, resume."""
    if not getattr(task, "deferrable", False):
        arm()
        return task.execute(ctx)
    try:
        return task.execute(ctx)
    except TaskDeferred as deferred:
        arm()
        event = asyncio.run(_first_event(deferred.trigger))
        assert json.loads(json.dumps(event)) == event
        return getattr(task, deferred.method_name)(ctx, event=event, **(deferred.kwargs or {}))


def _processed(emu, pattern: str) -> int:
    return sum(n for key, n in emu.state.route_counts.items() if key.startswith("POST ") and re.search(pattern, key[5:]))


def _cells() -> list[Any]:
    cells = []
    for sid, subject in SUBJECTS.items():
        for deferrable in (False, True) if subject.can_defer else (False,):
            for fid, fault in FAULTS.items():
                if fault.applies(subject):
                    mode = ("deferrable" if deferrable else "poke" if subject.kind == "sensor" else "sync")
                    cells.append(pytest.param(sid, deferrable, fid, id=f"{sid}-{mode}-{fid}"))
    return cells


CELLS = _cells()


@pytest.mark.parametrize(("subject_id", "deferrable", "fault_id"), CELLS)
def test_fault_cell(music_emulator, monkeypatch, make_context, tmp_path, instant_retries, subject_id, deferrable,
                    fault_id):
    emu, subject, fault = music_emulator, SUBJECTS[subject_id], FAULTS[fault_id]
    emu.state.job_seconds = JOB_SECONDS
    _connections(emu, monkeypatch, subject_id, fault.extras)
    env = Env(emu=emu, tmp=tmp_path, ctx=make_context(FakeTaskStateStore()), deferrable=deferrable)
    if fault_id == "never-finishes":
        emu.state.settings.update(subject.never_finishes)
    task = subject.build(env)
    if subject.kind == "sensor":
        task.poke_interval, task.timeout, task.deferrable = POLL, 5, deferrable
    before = {p: _processed(emu, p) for p in subject.creates}
    armed: list[Any] = []

    def arm() -> None:
        if not armed:
            armed.extend(emu.add_fault(**rule) for rule in fault.rules(subject))

    expected_error: tuple[type[Exception], ...] | None = None
    if fault_id == "never-finishes":
        if subject.kind == "sensor":
            task.timeout = 0.4
            expected_error = (AirflowSensorTimeout,)
        else:
            task.timeout = 0.4
            expected_error = (JobTimeoutError,)
        monkeypatch.setattr(core, "_sleep", time.sleep)  # the wait really waits for the deadline here
    elif fault_id == "596-pending-error":
        expected_error = (RiffusionAccountPendingError,)
    elif fault_id == "429-no-retry-after" and subject.api == "riffusion" and deferrable:
        # The trigger's deadline bounds the hook's inner retries: the vendor's 10 s minimum must fit before it.
        task.timeout = 15
    elif fault_id.startswith("create-answer-lost") and subject.lost_create_error:
        expected_error = subject.lost_create_error
    if fault.when == "start":
        arm()

    if expected_error is None:
        result = _drive(task, env.ctx, arm)
        assert result is not None
    else:
        with pytest.raises(Exception) as info:
            _drive(task, env.ctx, arm)
        assert isinstance(info.value, expected_error), f"{type(info.value).__name__}: {info.value}"
        if fault_id == "596-pending-error":  # not retried: one request, then the task fails without retries
            assert sum(r.hits for r in armed) == 1

    # the fault really happened (read faults: each rule fired as often as configured)
    for rule in armed:
        if fault_id != "596-pending-error":
            assert rule.hits == (rule.times or rule.hits) and rule.hits > 0, (rule.path, rule.hits)
    if fault_id == "429-retry-after":
        assert any(3 <= w <= 4 for w in instant_retries), instant_retries
    if fault_id == "429-no-retry-after" and subject.api == "riffusion":
        assert any(w >= 10 for w in instant_retries), instant_retries  # the vendor's 10 s minimum

    # no duplicate creation
    for pattern, count in subject.creates.items():
        done = _processed(emu, pattern) - before[pattern]
        if expected_error is None:
            assert done == count, (pattern, done)
        else:
            assert done <= count, (pattern, done)
        if fault_id.startswith("create-answer-lost") and expected_error is not None and pattern == subject.create_path:
            assert done == 1
    # no partial output; every output complete
    assert not list(tmp_path.rglob("*.part")), list(tmp_path.rglob("*"))
    if subject.downloads and expected_error is None:
        files = [p for p in env.dest.rglob("*") if p.is_file()]
        assert files and all(p.stat().st_size > 0 for p in files)


def test_matrix_covers_every_subject_mode_and_fault():
    seen = {(p.values[0], p.values[1]) for p in CELLS}
    assert seen == {(s, d) for s, subject in SUBJECTS.items() for d in (False, True) if d <= subject.can_defer}
    assert {p.values[2] for p in CELLS} == set(FAULTS)


# --------------------------------------------------------------------------------------------------
# The emulator restarting while a trigger waits
# --------------------------------------------------------------------------------------------------
class RestartableEmulator:
    """One emulator app and state served by uvicorn on a fixed port that can go down and come back."""

    def __init__(self) -> None:
        from airflow_provider_music.testing.emulator import EmulatorState, create_app

        self.state = EmulatorState(job_seconds=JOB_SECONDS)
        self.app = create_app(self.state)
        self.port = 0
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        import uvicorn

        from airflow_provider_music.testing.emulator import bind_socket

        sock = bind_socket("127.0.0.1", self.port)
        self.port = sock.getsockname()[1]
        self.state.base_url = self.url
        self._server = uvicorn.Server(uvicorn.Config(self.app, log_level="error", lifespan="off", access_log=False))
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            assert time.monotonic() < deadline and self._thread.is_alive(), "emulator did not start"
            time.sleep(0.01)

    def stop(self) -> None:
        self._server.should_exit = True
        assert self._thread is not None
        self._thread.join(timeout=10)


RESTART_CASES = ["riffusion-compose", "riffusion-upload-sensor", "acrcloud-upload", "acrcloud-scan", "acrcloud-dump",
                 "audioshake-jobs", "audioshake-tasks", "audioshake-sensor"]


@pytest.mark.parametrize("subject_id", RESTART_CASES)
def test_emulator_restarts_while_trigger_waits(monkeypatch, make_context, tmp_path, caplog, subject_id):
    subject = SUBJECTS[subject_id]
    emu = RestartableEmulator()
    emu.start()
    try:
        emu.token = "emulator-token"
        emu.connection = lambda api, **extra: connection_json(  # type: ignore[attr-defined]
            api, emu.url, extra={**({"identify_host": emu.url} if api == "acrcloud" else {}), **extra})
        _connections(emu, monkeypatch, subject_id, {})
        emu.state.job_seconds = 1.0  # still running when the emulator goes down
        env = Env(emu=emu, tmp=tmp_path, ctx=make_context(FakeTaskStateStore()), deferrable=True)
        task = subject.build(env)
        if subject.kind == "sensor":
            task.poke_interval, task.timeout, task.deferrable = POLL, 20, True
        before = {p: _processed(emu, p) for p in subject.creates}
        with pytest.raises(TaskDeferred) as deferred:
            task.execute(env.ctx)
        trigger = deferred.value.trigger

        async def scenario() -> dict[str, Any]:
            waiting = asyncio.ensure_future(_first_event(trigger))
            await asyncio.sleep(0.1)  # the trigger polls the live emulator
            await asyncio.to_thread(emu.stop)
            await asyncio.sleep(0.5)  # every poll now fails: connection refused
            assert not waiting.done()
            await asyncio.to_thread(emu.start)
            return await asyncio.wait_for(waiting, 30)

        with caplog.at_level("WARNING"):
            event = asyncio.run(scenario())
        assert event["status"] == "success", event
        result = getattr(task, deferred.value.method_name)(env.ctx, event=event, **(deferred.value.kwargs or {}))
        assert result is not None
        for pattern, count in subject.creates.items():
            assert _processed(emu, pattern) - before[pattern] == count
        assert not list(tmp_path.rglob("*.part"))
    finally:
        emu.stop()
