"""OpenLineage of every operator family, against the emulator: the naming rules (core/lineage.py), the datasets
and the ``music`` run facet ``get_openlineage_facets_on_complete`` gives, and the operators without the
OpenLineage provider (its import blocked)."""

from __future__ import annotations

import builtins
import json
import os
from pathlib import Path

import pytest
from airflow.providers.common.compat.sdk import ObjectStoragePath

from airflow_provider_music.core import lineage
from airflow_provider_music.core.report import DatasetRef
from airflow_provider_music.operators.acrcloud import (
    AcrCloudEnsureBucketOperator,
    AcrCloudScanFileOperator,
    AcrCloudUploadFileOperator,
)
from airflow_provider_music.operators.audioshake import AudioShakeStemSeparationOperator
from airflow_provider_music.operators.flowmusic import (
    FlowMusicDownloadOperator,
    FlowMusicGenerateOperator,
    FlowMusicStemsOperator,
    FlowMusicUploadOperator,
)
from airflow_provider_music.operators.riffusion import RiffusionComposeOperator, RiffusionDownloadOperator
from airflow_provider_music.testing.audio import write_sine_wav
from tests.conftest import SECRET_TOKEN

pytestmark = pytest.mark.integration
WAIT = {"poll_interval": 0.05, "timeout": 30}


def datasets(op) -> tuple[list[tuple[str, str]], list[tuple[str, str]], dict]:
    """(inputs, outputs, music facet as JSON) of the operator's OpenLineage facets on complete."""
    pytest.importorskip("airflow.providers.openlineage", reason="the OpenLineage provider (dev extra) is not installed")
    from openlineage.client.serde import Serde

    found = op.get_openlineage_facets_on_complete(None)
    facet = json.loads(Serde.to_json(found.run_facets["music"]))
    return ([(d.namespace, d.name) for d in found.inputs], [(d.namespace, d.name) for d in found.outputs], facet)


def local(path) -> tuple[str, str]:
    return ("file", os.path.abspath(str(path)))


# ---- naming rules --------------------------------------------------------------------------------------
def test_local_paths_are_absolute_in_the_file_namespace(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert lineage.path_dataset("song.wav") == DatasetRef("file", str(tmp_path / "song.wav"))
    assert lineage.path_dataset(tmp_path / "a" / ".." / "b.wav") == DatasetRef("file", str(tmp_path / "b.wav"))
    assert lineage.path_dataset("file:///data/x.wav") == DatasetRef("file", "/data/x.wav")
    assert lineage.path_dataset(ObjectStoragePath("file:///data/x.wav")) == DatasetRef("file", "/data/x.wav")


@pytest.mark.parametrize("url", ["s3://label/catalog/a b.wav", "gs://bucket/k/x.mp3", "s3://b/"])
def test_object_storage_follows_object_storage_path(url):
    path = ObjectStoragePath(url)
    assert lineage.path_dataset(url) == DatasetRef(path.namespace, path.key)
    assert lineage.path_dataset(path) == DatasetRef(path.namespace, path.key)


def test_urls_lose_credentials_queries_and_fragments():
    ref = lineage.path_dataset("https://user:pw@cdn.example.com:8443/a/song.wav?X-Amz-Signature=s3cr3t#t=1")
    assert ref == DatasetRef("https://cdn.example.com:8443", "/a/song.wav")
    assert lineage.path_dataset("s3://AKIA:secret@bucket/key?versionId=1") == DatasetRef("s3://bucket", "key")


def test_vendor_names_are_stable():
    assert lineage.flowmusic_clip("clip:ab-12") == DatasetRef("flowmusic://useapi.net", "clips/clip:ab-12")
    assert lineage.acrcloud_bucket_file(8881, 20) == DatasetRef("acrcloud://acrcloud.com", "buckets/8881/files/20")
    assert lineage.acrcloud_container_file("7", "f/1") == DatasetRef("acrcloud://acrcloud.com", "containers/7/files/f%2F1")
    assert lineage.riffusion_song("s1").namespace == "riffusion://useapi.net"
    assert lineage.audioshake_asset("a1") == DatasetRef("audioshake://audioshake.ai", "assets/a1")
    assert lineage.path_dataset(None) is None and lineage.path_dataset(b"bytes") is None


# ---- operator families ---------------------------------------------------------------------------------
def test_flowmusic_reference_to_clips_to_files_to_stems(music_emulator, make_context, tmp_path):
    ref = write_sine_wav(tmp_path / "ref.wav", 0.2)
    up = FlowMusicUploadOperator(task_id="up", source=str(ref))
    asset = up.execute(make_context())
    ins, outs, facet = datasets(up)
    assert ins == [local(ref)] and outs == [("flowmusic://useapi.net", f"assets/{asset['id']}")]
    gen = FlowMusicGenerateOperator(task_id="gen", prompt="lo-fi", ref_audios=[asset], **WAIT)
    song = gen.execute(make_context())
    ins, outs, facet = datasets(gen)
    assert ins == [("flowmusic://useapi.net", f"assets/{asset['id']}")]
    assert outs == [("flowmusic://useapi.net", f"clips/{c}") for c in song["clip_ids"]]
    assert facet["service"] == "flowmusic" and facet["facts"]["jobid"] == song["jobid"]
    assert facet["facts"]["model"] == "default" and facet["facts"]["account"] == song["email"]
    assert facet["_schemaURL"].endswith("lineage-music-run-facet.json#/$defs/MusicRunFacet") and facet["_producer"]
    dl = FlowMusicDownloadOperator(task_id="dl", clips=song, destination=str(tmp_path / "songs"))
    files = dl.execute(make_context())["files"]
    ins, outs, _ = datasets(dl)
    assert ins == [("flowmusic://useapi.net", f"clips/{c}") for c in song["clip_ids"]]
    assert outs == [local(f) for f in files] and all(Path(f).is_file() for f in files)
    stems = FlowMusicStemsOperator(task_id="st", clip=song, destination=str(tmp_path / "stems"))
    paths = stems.execute(make_context())["stems"]
    ins, outs, facet = datasets(stems)
    assert ins == [("flowmusic://useapi.net", f"clips/{song['clip_ids'][0]}")]
    assert sorted(outs) == sorted(local(p) for p in paths.values()) and facet["facts"]["stem_clip_ids"]


def test_flowmusic_generate_without_waiting_outputs_the_job_the_sensor_reads(music_emulator, make_context):
    from airflow_provider_music.sensors.flowmusic import FlowMusicJobSensor

    gen = FlowMusicGenerateOperator(task_id="gen", prompt="lo-fi", wait_for_completion=False)
    job = gen.execute(make_context())
    assert datasets(gen)[1] == [("flowmusic://useapi.net", f"jobs/{job['jobid']}")]
    sensor = FlowMusicJobSensor(task_id="wait", jobid=job, poke_interval=0.05, timeout=30)
    done = sensor.execute(make_context())
    ins, outs, facet = datasets(sensor)
    assert ins == [("flowmusic://useapi.net", f"jobs/{job['jobid']}")]
    assert outs == [("flowmusic://useapi.net", f"clips/{c}") for c in done["clip_ids"]]
    assert facet["facts"]["jobid"] == job["jobid"]


def test_riffusion_songs_to_files(music_emulator, make_context, tmp_path):
    compose = RiffusionComposeOperator(task_id="c", prompt="ambient", model="FUZZ-2.0", **WAIT)
    out = compose.execute(make_context())
    ins, outs, facet = datasets(compose)
    assert outs == [("riffusion://useapi.net", f"songs/{s}") for s in out["song_ids"]]
    assert facet["facts"]["job_ids"] == out["job_ids"] and facet["facts"]["model"] == "FUZZ-2.0"
    dl = RiffusionDownloadOperator(task_id="d", song_ids=out, destination=str(tmp_path))
    files = dl.execute(make_context())
    ins, outs, _ = datasets(dl)
    assert ins == [("riffusion://useapi.net", f"songs/{s}") for s in out["song_ids"]]
    assert outs == [local(f) for f in files]


def test_audioshake_file_to_stem_files(music_emulator, make_context, tmp_path):
    song = write_sine_wav(tmp_path / "song.wav", 0.3)
    op = AudioShakeStemSeparationOperator(task_id="s", source=str(song), destination=str(tmp_path / "stems"),
                                          stems=["vocals", "drums"], **WAIT)
    result = op.execute(make_context())
    ins, outs, facet = datasets(op)
    assert ins == [local(song)]
    assert sorted(outs) == sorted(local(p) for paths in result["files"].values() for p in paths)
    assert not any(".part" in name for _, name in outs) and facet["facts"]["asset_ids"] == [result["asset_id"]]


def test_acrcloud_bucket_file_and_scan_verdict(music_emulator, make_context, tmp_path):
    track = write_sine_wav(tmp_path / "track.wav", 0.3)
    bucket_op = AcrCloudEnsureBucketOperator(task_id="b", name="lineage-test")
    bucket = bucket_op.execute(make_context())
    assert datasets(bucket_op)[1] == [("acrcloud://acrcloud.com", f"buckets/{bucket}")]
    upload = AcrCloudUploadFileOperator(task_id="u", bucket_id=bucket, source=str(track), **WAIT)
    record = upload.execute(make_context())
    ins, outs, facet = datasets(upload)
    assert ins == [local(track)] and outs == [("acrcloud://acrcloud.com", f"buckets/{bucket}/files/{record['id']}")]
    scan = AcrCloudScanFileOperator(task_id="scan", source=str(track), **WAIT)
    result = scan.execute(make_context())
    ins, outs, facet = datasets(scan)
    assert ins == [local(track)]
    assert outs == [("acrcloud://acrcloud.com", f"containers/{result['container_id']}/files/{result['file_id']}")]
    assert facet["facts"]["verdicts"] == [{"file_id": result["file_id"], "source": str(track), "copyright": "no match",
                                           "matches": 0}]


def test_no_secret_in_any_facet(music_emulator, make_context, tmp_path):
    gen = FlowMusicGenerateOperator(task_id="gen", prompt="lo-fi", **WAIT)
    gen.execute(make_context())
    assert SECRET_TOKEN not in json.dumps(datasets(gen), default=str)


def test_operators_work_without_the_openlineage_provider(music_emulator, make_context, tmp_path, monkeypatch):
    real_import = builtins.__import__

    def blocked(name, *args, **kwargs):
        if name.startswith(("openlineage", "airflow.providers.openlineage", "airflow_provider_music.operators.lineage")):
            raise ImportError(f"blocked: {name}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", blocked)
    gen = FlowMusicGenerateOperator(task_id="gen", prompt="lo-fi", **WAIT)
    song = gen.execute(make_context())
    assert song["status"] == "completed" and gen.task_report.outputs  # the report is filled all the same
    assert gen.get_openlineage_facets_on_complete(None) is None
    assert gen.get_openlineage_facets_on_failure(None) is None
