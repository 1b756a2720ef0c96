"""FlowMusic is a first-class citizen (issue 19 §4): its compose and download tasks have an extra link
(registered in get_provider_info), and the generate operator keeps one or both clips of the A/B pair."""

from __future__ import annotations

import importlib

import pytest

from airflow_provider_music.core import InvalidInputError
from airflow_provider_music.get_provider_info import get_provider_info
from airflow_provider_music.operators import base
from airflow_provider_music.operators.flowmusic import (
    APP_URL,
    FlowMusicDownloadOperator,
    FlowMusicEditOperator,
    FlowMusicGenerateOperator,
    FlowMusicSongLink,
    FlowMusicStemsOperator,
)

WAIT = {"poll_interval": 0.05, "timeout": 20}
LINK = "airflow_provider_music.operators.flowmusic.FlowMusicSongLink"


def test_provider_info_lists_the_flowmusic_link_and_four_apis():
    info = get_provider_info()
    assert LINK in info["extra-links"]
    module, _, name = LINK.rpartition(".")
    assert getattr(importlib.import_module(module), name) is FlowMusicSongLink
    assert "FlowMusic" in info["name"] and "five APIs" in info["description"]
    assert "three" not in info["description"]


@pytest.mark.parametrize("operator", [FlowMusicGenerateOperator, FlowMusicEditOperator, FlowMusicDownloadOperator])
def test_compose_edit_and_download_tasks_have_the_song_link(operator):
    links = operator.operator_extra_links
    assert [type(link) for link in links] == [FlowMusicSongLink] and links[0].name == "FlowMusic song"


@pytest.mark.parametrize("deferrable", [False, True])
def test_link_points_at_the_song_after_the_task(music_emulator, make_context, tmp_path, deferrable):
    from airflow.providers.common.compat.sdk import TaskDeferred

    from tests.flowmusic.test_operators import resume

    ctx = make_context()
    op = FlowMusicGenerateOperator(task_id="compose", prompt="lo-fi piano", deferrable=deferrable, **WAIT)
    if deferrable:
        with pytest.raises(TaskDeferred) as exc:
            op.execute(ctx)
        assert FlowMusicSongLink().get_link(op, ti_key=None) == APP_URL  # no clip yet: the app
        song = resume(op, ctx, exc)
    else:
        song = op.execute(ctx)
    url = FlowMusicSongLink().get_link(op, ti_key=None)
    assert url == song["clips"][0]["audio_url"] and url.endswith(".m4a") and "?" not in url
    assert ctx["ti"].xcom_pushed["flowmusic_song_url"] == url
    dl_ctx = make_context()
    download = FlowMusicDownloadOperator(task_id="dl", clips=song, destination=str(tmp_path))
    download.execute(dl_ctx)
    assert FlowMusicSongLink().get_link(download, ti_key=None) == url == dl_ctx["ti"].xcom_pushed["flowmusic_song_url"]


def test_link_url_from_xcom(monkeypatch):
    class FakeXCom:
        @staticmethod
        def get_value(*, key, ti_key):
            assert key == "flowmusic_song_url" and ti_key == "k"
            return "https://storage.googleapis.com/producer-app-public/clips/x.m4a"

    monkeypatch.setattr(base, "XCom", FakeXCom)
    url = FlowMusicSongLink().get_link(None, ti_key="k")  # type: ignore[arg-type]
    assert url == "https://storage.googleapis.com/producer-app-public/clips/x.m4a"


@pytest.mark.parametrize(("keep", "index"), [("both", slice(0, 2)), ("first", slice(0, 1)), ("second", slice(1, 2))])
def test_keep_one_or_both_clips_and_downstream_takes_them(music_emulator, make_context, tmp_path, keep, index):
    song = FlowMusicGenerateOperator(task_id="compose", prompt="lo-fi piano", keep=keep, **WAIT).execute(
        make_context())
    job = FlowMusicGenerateOperator(task_id="x", prompt="x").hook.get_job(song["jobid"])  # both clips exist
    kept = job["clip_ids"][index]
    assert song["clip_ids"] == kept and [c["clip"] for c in song["clips"]] == kept
    assert song.get("dropped_clip_ids", []) == [c for c in job["clip_ids"] if c not in kept]
    files = FlowMusicDownloadOperator(task_id="dl", clips=song, destination=str(tmp_path)).execute(make_context())
    assert files["clip_ids"] == kept and len(files["files"]) == len(kept)
    stems = FlowMusicStemsOperator(task_id="stems", clip=song, destination=str(tmp_path / "stems")).execute(
        make_context())
    assert stems["clip"] == kept[0]
    assert music_emulator.count("POST", "/v1/flowmusic/music") == 1


@pytest.mark.parametrize("keep", ["one", "A", "", None, "all"])
def test_keep_is_checked_when_the_dag_is_parsed(keep):
    with pytest.raises(InvalidInputError, match="keep must be one of both, first, second"):
        FlowMusicGenerateOperator(task_id="compose", prompt="x", keep=keep)
    with pytest.raises(InvalidInputError, match="keep must be one of"):
        FlowMusicGenerateOperator.partial(task_id="compose", keep=keep).expand(prompt=["a", "b"])
