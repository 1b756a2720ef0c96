"""Uploads stream: a 200 MB file goes out with < 50 MB peak memory growth (measured in a subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import json, os, resource, sys, tempfile
    os.environ["AIRFLOW_HOME"] = tempfile.mkdtemp()
    from airflow_provider_music.testing.server import EmulatorServer
    from airflow_provider_music import core

    class SinkHook(core.MusicApiHook):
        conn_type = "sink"; default_conn_name = "sink_default"; hook_name = "Sink"

    mode = sys.argv[1]
    size = 200 * 1024 * 1024
    path = os.path.join(tempfile.mkdtemp(), "big.wav")
    with open(path, "wb") as fh:
        block = os.urandom(1024 * 1024)
        for _ in range(size // len(block)):
            fh.write(block)
    with EmulatorServer() as emu:
        os.environ["AIRFLOW_CONN_SINK_DEFAULT"] = json.dumps(
            {"conn_type": "sink", "host": emu.url + "/_emulator/", "password": emu.token})
        hook = SinkHook()
        source = core.resolve_source(path)
        hook.upload_raw("POST", "sink", core.resolve_source(path[:-4] + ".wav"), content_type="audio/wav")  # warm up
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        if mode == "raw":
            answer = hook.upload_raw("POST", "sink", source, content_type="audio/wav")
        else:
            answer = hook.upload_multipart("POST", "sink", fields={"title": "t"}, file_field="file",
                                           source=source, content_type="audio/wav")
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"growth_mb": (after - before) / 1024, "size": answer["size"]}))
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["raw", "multipart"])
def test_200mb_upload_streams(mode):
    # The emulator runs in the same process (thread) and also streams to disk, so this bounds both.
    out = subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["size"] >= 200 * 1024 * 1024
    assert result["growth_mb"] < 50, result
