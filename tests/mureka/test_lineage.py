"""Issue 22 §1 for Mureka (issue 23 §2): every Mureka operator and the sensor fill ``task_report``, and the graph
joins up: reference file -> ``uploads/<id>`` -> ``songs/<id>`` -> downloaded file, and ``songs/<id>`` -> stem
files; a generate that does not wait outputs ``jobs/<id>``, which the sensor reads."""

from __future__ import annotations

import json
import os
import zipfile

import pytest

from airflow_provider_music.core import lineage
from airflow_provider_music.core.report import DatasetRef
from airflow_provider_music.operators.mureka import (
    MurekaDownloadOperator,
    MurekaEditOperator,
    MurekaGenerateOperator,
    MurekaLyricsOperator,
    MurekaStemsOperator,
    MurekaUploadOperator,
)
from airflow_provider_music.sensors.mureka import MurekaJobSensor
from airflow_provider_music.testing.flowmusic_store import silent_mp3
from tests.conftest import SECRET_TOKEN

pytestmark = pytest.mark.integration
WAIT = {"poll_interval": 0.05, "timeout": 20}
NS = "mureka://useapi.net"
ACCOUNT = "12345678901234"


def datasets(op):
    """(inputs, outputs, facts) of the task_report, and the same through OpenLineage when it is installed."""
    report = op.task_report
    ins = [(d.namespace, d.name) for d in report.inputs]
    outs = [(d.namespace, d.name) for d in report.outputs]
    try:
        from openlineage.client.serde import Serde
    except ImportError:
        return ins, outs, report.facts
    found = op.get_openlineage_facets_on_complete(None)
    facet = json.loads(Serde.to_json(found.run_facets["music"]))
    assert [(d.namespace, d.name) for d in found.inputs] == ins and [(d.namespace, d.name) for d in found.outputs] == outs
    assert facet["service"] == "mureka" and facet["facts"] == json.loads(json.dumps(report.facts))
    return ins, outs, report.facts


def local(path) -> tuple[str, str]:
    return ("file", os.path.abspath(str(path)))


def songs(*ids) -> list[tuple[str, str]]:
    return [(NS, f"songs/{i}") for i in ids]


def test_mureka_names_are_stable():
    song = "user:777-mureka:12345678901234-song:33445566"
    assert lineage.mureka_song(song) == DatasetRef(NS, f"songs/{song}")
    assert lineage.mureka_job("j01m-u777-a1-bot:mureka") == DatasetRef(NS, "jobs/j01m-u777-a1-bot:mureka")
    assert lineage.mureka_upload(1122334455) == DatasetRef(NS, "uploads/1122334455")
    assert lineage.mureka_stems(f"{song}-stems:1") == DatasetRef(NS, f"stems/{song}-stems:1")


def test_reference_to_song_to_file_to_stems(music_emulator, make_context, tmp_path):
    ref = tmp_path / "ref.mp3"
    ref.write_bytes(silent_mp3())
    up = MurekaUploadOperator(task_id="up", source=str(ref), title="Ref", genre="pop", mood="relaxed")
    upload = up.execute(make_context())
    ins, outs, facts = datasets(up)
    assert ins == [local(ref)] and outs == [(NS, f"uploads/{upload['id']}")]
    assert facts["upload_id"] == upload["id"] and facts["kind"] == "reference"

    gen = MurekaGenerateOperator(task_id="gen", kind="instrumental", prompt="lo-fi", ref_id=upload, model="V9.5", **WAIT)
    song = gen.execute(make_context())
    ins, outs, facts = datasets(gen)
    assert ins == [(NS, f"uploads/{upload['id']}")] and outs == songs(*song["song_ids"])
    assert facts["jobid"] == song["jobid"] and facts["model"] == "V9.5" and facts["account"] == ACCOUNT
    assert facts["song_ids"] == song["song_ids"] and facts["operation"] == "instrumental"
    assert facts["reply_ref"].startswith("airflow:")

    dl = MurekaDownloadOperator(task_id="dl", songs=song, destination=str(tmp_path / "songs"))
    files = dl.execute(make_context())["files"]
    ins, outs, facts = datasets(dl)
    assert ins == songs(*song["song_ids"]) and outs == [local(f) for f in files]  # joins the generate's outputs
    assert facts["song_ids"] == song["song_ids"]

    st = MurekaStemsOperator(task_id="st", song=song, destination=str(tmp_path / "stems"), **WAIT)
    stems = st.execute(make_context())
    ins, outs, facts = datasets(st)
    assert ins == songs(song["song_ids"][0])
    assert sorted(outs) == sorted(local(p) for p in stems["files"].values())
    assert all(zipfile.is_zipfile(p) for p in stems["files"].values())
    assert not any(".part" in name or ".tmp" in name for _, name in outs)
    assert facts["stems_id"] == stems["stems_id"] and facts["jobid"] == stems["jobid"] and facts["account"] == ACCOUNT


def test_edit_reads_its_source_song_and_writes_the_new_ones(music_emulator, make_context):
    song = MurekaGenerateOperator(task_id="gen", prompt="lo-fi", **WAIT).execute(make_context())
    edit = MurekaEditOperator(task_id="remix", operation="remix", song=song, song_index=1, desc="jazz", **WAIT)
    out = edit.execute(make_context())
    ins, outs, facts = datasets(edit)
    assert ins == songs(song["song_ids"][1]) and outs == songs(*out["song_ids"])
    assert facts["operation"] == "remix" and facts["model"] == "default" and facts["account"] == ACCOUNT
    stems = MurekaStemsOperator(task_id="st", song=out, all_stems=False, **WAIT)  # no destination: the stems object
    result = stems.execute(make_context())
    assert datasets(stems)[1] == [(NS, f"stems/{result['stems_id']}")]


def test_generate_without_waiting_outputs_the_job_the_sensor_reads(music_emulator, make_context):
    gen = MurekaGenerateOperator(task_id="gen", prompt="lo-fi", wait_for_completion=False)
    job = gen.execute(make_context())
    assert datasets(gen)[1] == [(NS, f"jobs/{job['jobid']}")]
    sensor = MurekaJobSensor(task_id="wait", jobid=job, poke_interval=0.05, timeout=20)
    done = sensor.execute(make_context())
    ins, outs, facts = datasets(sensor)
    assert ins == [(NS, f"jobs/{job['jobid']}")] and outs == songs(*done["song_ids"])
    assert facts["jobid"] == job["jobid"] and facts["song_ids"] == done["song_ids"] and facts["account"] == ACCOUNT


def test_lyrics_report_facts_only_and_no_secret_anywhere(music_emulator, make_context, set_connection, tmp_path):
    music_emulator.state.tokens.add(SECRET_TOKEN)
    set_connection("mureka_default", "mureka", host=music_emulator.url + "/v1/mureka/", password=SECRET_TOKEN)
    lyrics = MurekaLyricsOperator(task_id="ly", prompt="a road trip", account=ACCOUNT)
    lyrics.execute(make_context())
    ins, outs, facts = datasets(lyrics)
    assert ins == [] and outs == [] and facts["account"] == ACCOUNT
    gen = MurekaGenerateOperator(task_id="gen", prompt="lo-fi", **WAIT)
    gen.execute(make_context())
    assert SECRET_TOKEN not in json.dumps([datasets(gen), datasets(lyrics)], default=str)
