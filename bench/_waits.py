"""The wait kinds of ``bench_triggerer.py``: emulator jobs, their sensors, the trigger each sensor defers on,
and the one GET a bare client makes per job (the floor of ``_probes.py``).

Shared by ``bench_triggerer.py`` (the real triggerer) and ``_probes.py`` (child processes: the bare aiohttp
floor and the cyclic-garbage probe), so both poll exactly the same jobs.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote

#: kind -> (API of the emulator, sensor class, sensor argument, goal in requests per job per minute)
KINDS: dict[str, tuple[str, str, str, float]] = {
    "riffusion": ("riffusion", "airflow_provider_music.sensors.riffusion.RiffusionSongSensor", "job_ids", 2.0),
    "acrcloud": ("acrcloud", "airflow_provider_music.sensors.acrcloud.AcrCloudFileStateSensor", "ids", 0.05),
    "audioshake_jobs": ("audioshake", "airflow_provider_music.sensors.audioshake.AudioShakeJobSensor", "job_ids", 2.0),
    "audioshake_tasks": ("audioshake", "airflow_provider_music.sensors.audioshake.AudioShakeJobSensor",
                         "audioshake_task_id", 2.0),
    "flowmusic": ("flowmusic", "airflow_provider_music.sensors.flowmusic.FlowMusicJobSensor", "jobid", 2.0),
}
#: Issue 20 goals: kinds whose API can list (one request answers many jobs) and the per-job ones.
LISTING = ("acrcloud", "flowmusic", "riffusion")
#: connection of a kind when not the hook's default
CONNS: dict[str, str] = {"audioshake_tasks": "audioshake_tasks"}
TOKEN = "emulator-token"


# ---------------------------------------------------------------------------------------------------
# jobs in the emulator
# ---------------------------------------------------------------------------------------------------
def create_jobs(kind: str, n: int, emulator: str) -> tuple[list[Any], dict[str, Any]]:
    """N pending jobs of ``kind``: (sensor argument values, extra sensor kwargs)."""
    if kind == "acrcloud":
        from airflow_provider_music.hooks.acrcloud import AcrCloudHook

        hook = AcrCloudHook()
        bucket = hook.create_bucket(f"wait-{n}", region="eu-west-1")["id"]
        import requests

        session, token = requests.Session(), hook.get_connection(hook.conn_id).password

        def one(i: int) -> Any:
            resp = session.post(f"{emulator}/api/buckets/{bucket}/files", headers={"Authorization": f"Bearer {token}"},
                                json={"data_type": "acrid", "acrid": f"acrid{i:08d}", "title": f"t{i}"}, timeout=60)
            resp.raise_for_status()
            return resp.json()["data"]["id"]

        return _parallel(one, n), {"bucket_id": bucket}
    if kind == "riffusion":
        from airflow_provider_music.hooks.riffusion import RiffusionHook

        riff = RiffusionHook()
        return _parallel(lambda i: riff.create_prompt(f"bench song {i}")[0], n), {}
    if kind == "flowmusic":
        from airflow_provider_music.hooks.flowmusic import FlowMusicHook

        flow = FlowMusicHook()
        return _parallel(lambda i: flow.generate(f"bench song {i}", mode="async")["jobid"], n), {}
    if kind == "audioshake_jobs":
        from airflow_provider_music.hooks.audioshake import AudioShakeHook

        shake = AudioShakeHook()
        asset = shake.jobs.upload_link(f"{emulator}/_emulator/health", name="bench.wav", audio=True)["id"]
        return _parallel(lambda i: shake.jobs.create_job(asset, name="vocals", format="wav")["id"], n), {}
    if kind == "audioshake_tasks":
        import io

        from airflow_provider_music.hooks.audioshake import AudioShakeHook
        from airflow_provider_music.testing.audio import sine_wav

        tasks = AudioShakeHook(CONNS[kind]).tasks
        asset = tasks.upload_asset(io.BytesIO(sine_wav(seconds=0.2)), filename="bench.wav")["id"]
        targets = [{"model": "vocals", "formats": ["wav"]}]
        return _parallel(lambda i: tasks.create_task(asset, targets)["id"], n), {"audioshake_conn_id": CONNS[kind]}
    raise ValueError(f"unknown kind {kind!r}")


def _parallel(func: Any, n: int) -> list[Any]:
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(func, range(n)))


# ---------------------------------------------------------------------------------------------------
# sensors and the triggers they defer on
# ---------------------------------------------------------------------------------------------------
def sensor_for(kind: str, value: Any, extra: dict[str, Any], interval: float, index: int) -> Any:
    import importlib

    module, name = KINDS[kind][1].rsplit(".", 1)
    cls = getattr(importlib.import_module(module), name)
    return cls(task_id=f"wait_{index}", deferrable=True, poke_interval=interval, timeout=7200,
               **{KINDS[kind][2]: value}, **extra)


def trigger_for(sensor: Any) -> Any:
    """The trigger ``sensor.execute()`` defers on (its first poke answered "not done" without a request).

    Goes through the sensor's own ``execute`` rather than any attribute of the provider's status-link
    machinery, so the benchmark keeps working when that machinery is renamed or rebuilt.
    """
    from airflow.providers.common.compat.sdk import PokeReturnValue, TaskDeferred

    sensor.poke = lambda context: PokeReturnValue(is_done=False)
    try:  # the task runner's sentinel: no "cannot be called outside of the Task Runner!" warning per sensor
        from airflow.sdk.bases.operator import ExecutorSafeguard

        runner = {f"{type(sensor).__name__}__sentinel": ExecutorSafeguard.sentinel_value}
    except ImportError:
        runner = {}
    try:
        sensor.execute({}, **runner)
    except TaskDeferred as deferred:
        return deferred.trigger
    raise RuntimeError(f"{type(sensor).__name__}.execute() did not defer")


# ---------------------------------------------------------------------------------------------------
# the floor: the one GET a bare client makes per job
# ---------------------------------------------------------------------------------------------------
def floor_request(kind: str, value: Any, extra: dict[str, Any], emulator: str) -> str:
    """URL of the per-job status GET of ``kind`` (the same resource the provider's per-job poll reads)."""
    ident = quote(str(value), safe="")
    if kind == "flowmusic":
        return f"{emulator}/v1/flowmusic/jobs/{ident}"
    if kind == "riffusion":
        return f"{emulator}/v1/riffusion/music/?id={ident}"
    if kind == "audioshake_jobs":
        return f"{emulator}/job/{ident}"
    if kind == "audioshake_tasks":
        return f"{emulator}/tasks/{ident}"
    if kind == "acrcloud":
        return f"{emulator}/api/buckets/{quote(str(extra['bucket_id']), safe='')}/files/{ident}"
    raise ValueError(f"unknown kind {kind!r}")


def floor_headers(kind: str) -> dict[str, str]:
    """The credential header of ``kind``'s status GET (AudioShake Tasks: ``x-api-key``, the rest Bearer)."""
    return {"x-api-key": TOKEN} if kind == "audioshake_tasks" else {"Authorization": f"Bearer {TOKEN}"}
