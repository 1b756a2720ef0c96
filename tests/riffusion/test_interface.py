"""Issue 11 for Riffusion: the operator interface users touch (connection argument, upstream outputs as inputs,
plain local paths, extra links a person can open)."""

from __future__ import annotations

import datetime as dt

import pytest

from airflow_provider_music.core.errors import InvalidInputError
from airflow_provider_music.operators.riffusion import (
    RiffusionComposeOperator,
    RiffusionDownloadOperator,
    RiffusionSongLink,
    RiffusionUploadAudioOperator,
)


def _compose(ctx, prompt: str = "x") -> dict:
    return RiffusionComposeOperator(task_id="c", prompt=prompt, poll_interval=0.05, timeout=20).execute(ctx)


def test_download_takes_one_compose_result(music_emulator, make_context, tmp_path):
    result = _compose(make_context())
    paths = RiffusionDownloadOperator(task_id="d", song_ids=result, destination=str(tmp_path)).execute(make_context())
    assert len(paths) == 2 and all(p.startswith(str(tmp_path)) and not p.startswith("file:") for p in paths)


def test_download_takes_a_mapped_compose_and_plain_ids(music_emulator, make_context, tmp_path):
    results = [_compose(make_context(), p) for p in ("one", "two")]  # what a mapped compose's .output resolves to
    paths = RiffusionDownloadOperator(task_id="d", song_ids=results, destination=str(tmp_path / "a")).execute(
        make_context())
    assert len(paths) == 4 and len(set(paths)) == 4
    plain = RiffusionDownloadOperator(task_id="d", song_ids=results[0]["song_ids"][0], destination=str(tmp_path / "b"))
    assert len(plain.execute(make_context())) == 1


def test_output_rule_local_paths_and_remote_urls(music_emulator, make_context, tmp_path):
    from airflow_provider_music.operators import riffusion as ops

    result = _compose(make_context())
    paths = RiffusionDownloadOperator(task_id="d", song_ids=result, destination=f"file://{tmp_path}/u").execute(
        make_context())
    assert all(p.startswith(f"{tmp_path}/u/") for p in paths)  # a file:// destination still gives plain paths

    class RemotePath:
        protocol, path = "s3", "bucket/x.m4a"

        def __str__(self) -> str:
            return "s3://bucket/x.m4a"

    assert ops._local_or_url(RemotePath()) == "s3://bucket/x.m4a"  # remote storage: the URL


def test_operators_wire_to_upstream_outputs_in_a_dag():
    from airflow.sdk import DAG

    with DAG("riffusion_interface", schedule=None, start_date=dt.datetime(2026, 1, 1)):
        compose = RiffusionComposeOperator(task_id="compose", prompt="x")
        mapped = RiffusionComposeOperator.partial(task_id="mapped", riffusion_conn_id="riffusion_default").expand(
            prompt=["a", "b"])
        one = RiffusionDownloadOperator(task_id="dl_one", song_ids=compose.output)
        many = RiffusionDownloadOperator(task_id="dl_many", song_ids=mapped.output)
    assert one.upstream_task_ids == {"compose"} and many.upstream_task_ids == {"mapped"}


@pytest.mark.parametrize("cls", [RiffusionComposeOperator, RiffusionDownloadOperator, RiffusionUploadAudioOperator])
def test_connection_argument_is_riffusion_conn_id(cls):
    kwargs = {"prompt": "x"} if cls is RiffusionComposeOperator else (
        {"song_ids": "a"} if cls is RiffusionDownloadOperator else {"source": "a.wav"})
    op = cls(task_id="t", riffusion_conn_id="my_conn", **kwargs)
    assert op.conn_id == "my_conn" and "riffusion_conn_id" in op.template_fields
    with pytest.raises(InvalidInputError, match="riffusion_conn_id"):
        cls(task_id="t2", conn_id="my_conn", **kwargs)


def test_extra_link_opens_the_song_page(music_emulator, make_context):
    op = RiffusionComposeOperator(task_id="c", prompt="x", poll_interval=0.05, timeout=20)
    result = op.execute(make_context())
    url = RiffusionSongLink().get_link(op, ti_key=None)
    assert url == f"https://www.riffusion.com/riff/{result['song_ids'][0]}"


def test_failed_task_link_is_empty_without_xcom_lookup(music_emulator, make_context):
    op = RiffusionComposeOperator(task_id="c", prompt="x", user_id="not-an-account")
    with pytest.raises(Exception):
        op.execute(make_context())
    assert RiffusionSongLink().get_link(op, ti_key=None) == ""
