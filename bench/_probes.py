"""Child processes of ``bench_triggerer.py`` (issue 20): the bare aiohttp floor and the cyclic-garbage probe.

``python bench/_probes.py floor SPEC.json``: N coroutines on ONE aiohttp session (pool of 64, as the
provider's shared session), each doing what a trigger does per job: sleep one interval, then
``GET`` + ``json.loads`` of the body, sleep one interval, again. It runs beside the real triggerer, over the
same emulator jobs and the same measured window (``window_start`` .. ``window_end``, epoch seconds), and
reports its CPU seconds, its polls and the cyclic garbage the collector found in that window.

``python bench/_probes.py gc SPEC.json``: K of the provider's own triggers (built by each sensor's
``execute()``, run through ``trigger.run()``) in one asyncio loop with a short interval, then the floor over
the same K jobs in the same loop: for each, the objects the cyclic collector frees per request (``gc``
callbacks, plus one ``gc.collect()`` at the end of the window) and CPU ms per request in that loop. Run
while nothing else polls the emulator, so its request counters are the probe's own.
"""

from __future__ import annotations

import asyncio
import gc
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import cpu_seconds  # noqa: E402


class GarbageCounter:
    """Objects the cyclic collector found unreachable while active (automatic collections included)."""

    def __init__(self) -> None:
        self.collected = 0
        self.collections = 0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "stop":
            self.collected += info.get("collected", 0) + info.get("uncollectable", 0)
            self.collections += 1

    def __enter__(self) -> GarbageCounter:
        gc.collect()  # what is left from before the window is not counted
        self.collected = self.collections = 0
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.collect()  # garbage made in the window but not yet collected
        gc.callbacks.remove(self)


async def floor_loop(urls: list[str], headers: dict[str, str], interval: float, stats: dict[str, int],
                     until: float) -> None:
    """Bare polling of ``urls`` on one shared session until ``until`` (epoch seconds)."""
    import aiohttp
    import yarl

    connector = aiohttp.TCPConnector(limit=64, keepalive_timeout=60)
    # the credential per request, as the provider's shared session (one per loop, any API or token) must send it
    async with aiohttp.ClientSession(connector=connector, auto_decompress=False) as session:

        async def one(url: yarl.URL) -> None:
            await asyncio.sleep(interval)
            while True:
                try:
                    async with session.get(url, headers=headers) as resp:
                        body = await resp.read()
                        json.loads(body)
                        stats["errors"] += resp.status != 200
                except (TimeoutError, aiohttp.ClientError, ValueError):
                    stats["errors"] += 1
                stats["polls"] += 1
                await asyncio.sleep(interval)

        tasks = [asyncio.ensure_future(one(yarl.URL(u, encoded=True))) for u in urls]
        await asyncio.sleep(max(0.0, until - time.time()))
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def run_floor(spec: dict[str, Any]) -> dict[str, Any]:
    """The floor beside the triggerer: CPU, polls and garbage of this process in the shared window."""
    stats = {"polls": 0, "errors": 0}
    marks: dict[str, dict[str, float]] = {}
    garbage = GarbageCounter()

    def mark(name: str) -> None:
        if name == "start":
            garbage.__enter__()
        else:
            garbage.__exit__()
        marks[name] = {"t": time.time(), "cpu": cpu_seconds(), "polls": stats["polls"], "errors": stats["errors"]}

    async def main() -> None:
        loop = asyncio.get_running_loop()
        loop.call_later(max(0.0, spec["window_start"] - time.time()), mark, "start")
        loop.call_later(max(0.0, spec["window_end"] - time.time()), mark, "end")
        await floor_loop(spec["urls"], spec["headers"], spec["interval"], stats, spec["stop_at"])

    asyncio.run(main())
    start, end = marks["start"], marks["end"]
    polls = end["polls"] - start["polls"]
    return {"n": len(spec["urls"]), "window_s": end["t"] - start["t"], "cpu_s": end["cpu"] - start["cpu"],
            "polls": polls, "errors": end["errors"] - start["errors"], "gc_collected": garbage.collected,
            "gc_per_poll": garbage.collected / polls if polls else None, "peak_rss_mb": _peak_rss_mb()}


def _peak_rss_mb() -> float:
    """Peak RSS of this process image (``VmHWM``: ``ru_maxrss`` would include the forked parent before exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def emulator_gets(emulator: str) -> int:
    import urllib.request

    with urllib.request.urlopen(f"{emulator}/_emulator/state", timeout=60) as resp:  # noqa: S310 - loopback
        counts = json.loads(resp.read())["request_counts"]
    return sum(v for k, v in counts.items() if k.startswith("GET /") and not k.startswith("GET /_emulator"))


async def _window(emulator: str, seconds: float) -> dict[str, Any]:
    """CPU, emulator GETs and cyclic garbage of this process over ``seconds`` of the running loop."""
    loop = asyncio.get_running_loop()
    with GarbageCounter() as garbage:
        req0, cpu0 = await loop.run_in_executor(None, emulator_gets, emulator), cpu_seconds()
        await asyncio.sleep(seconds)
        cpu1, req1 = cpu_seconds(), await loop.run_in_executor(None, emulator_gets, emulator)
    reqs = req1 - req0
    return {"requests": reqs, "cpu_ms_per_req": 1000 * (cpu1 - cpu0) / reqs if reqs else None,
            "gc_collected": garbage.collected, "gc_per_req": garbage.collected / reqs if reqs else None}


async def _probe_triggers(spec: dict[str, Any]) -> dict[str, Any]:
    from _waits import sensor_for, trigger_for

    interval, window = spec["interval"], spec["window"]
    triggers = [trigger_for(sensor_for(spec["kind"], v, spec["extra"], interval, i)) for i, v in enumerate(spec["values"])]
    fired: list[Any] = []

    async def drive(trigger: Any) -> None:
        async for event in trigger.run():
            fired.append(event)
            return

    tasks = [asyncio.ensure_future(drive(t)) for t in triggers]
    await asyncio.sleep(2.5 * interval)  # set-up and the first rounds are over
    out = await _window(spec["emulator"], window)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    out["checks"] = len(triggers) * window / interval
    out["gc_per_check"] = out["gc_collected"] / out["checks"]
    out["fired_early"] = len(fired)  # jobs are pending: any event here is an error event
    return out


async def _probe_floor(spec: dict[str, Any]) -> dict[str, Any]:
    from _waits import floor_headers, floor_request

    interval, window = spec["interval"], spec["window"]
    urls = [floor_request(spec["kind"], v, spec["extra"], spec["emulator"]) for v in spec["values"]]
    stats = {"polls": 0, "errors": 0}
    until = time.time() + 2.5 * interval + window + 5
    loop_task = asyncio.ensure_future(floor_loop(urls, floor_headers(spec["kind"]), interval, stats, until))
    await asyncio.sleep(2.5 * interval)
    out = await _window(spec["emulator"], window)
    loop_task.cancel()
    await asyncio.gather(loop_task, return_exceptions=True)
    out["errors"] = stats["errors"]
    return out


def run_gc_probe(spec: dict[str, Any]) -> dict[str, Any]:
    """Ours, then the floor, over the same K jobs in one loop each (fresh loops, same process)."""
    import airflow_provider_music  # noqa: F401 - imported before anything is measured

    ours = asyncio.run(_probe_triggers(spec))
    floor = asyncio.run(_probe_floor(spec))
    return {"k": len(spec["values"]), "interval": spec["interval"], "window": spec["window"], "ours": ours,
            "floor": floor}


def main(argv: list[str]) -> int:
    what, path = argv
    spec = json.loads(Path(path).read_text())
    out = run_floor(spec) if what == "floor" else run_gc_probe(spec)
    Path(spec["out"]).write_text(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
