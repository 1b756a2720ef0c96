"""The copyright gate's verdict (issue 12 §1): a scan is "clean" only when a finished scan of exactly the
asked configuration says so. Class of defect: an answer that is no verdict read as "no match".

Cases: unknown, fractional, missing or NaN-ish states (at poll time and at the end), state 1 without any
readable match, results without ``music`` / not a list / holding non-objects, a file of another container or
engine, a lost scan upload with a fixed ``name`` (an earlier run's file is no answer), a name held twice,
a failed earlier scan never reused by the next try.
"""

from __future__ import annotations

import pytest

from airflow_provider_music.contract.acrcloud import to_int
from airflow_provider_music.contract.acrcloud_fs import parse_fs_files_status, scan_verdict
from airflow_provider_music.core import InvalidResponseError, MusicApiError
from airflow_provider_music.core.errors import LostAnswerError
from airflow_provider_music.hooks.acrcloud import AcrCloudHook
from airflow_provider_music.operators.acrcloud import AcrCloudScanFileOperator
from airflow_provider_music.testing.acrcloud import store_of
from airflow_provider_music.testing.audio import sine_wav

MATCH = {"offset": 0, "played_duration": 9, "result": {"title": "Known", "acrid": "a" * 32}}


def record(**over):
    return {"id": "f1", "cid": 7, "engine": 1, "state": -1, "results": {"music": [], "custom_files": []}, **over}


# ---- pure: what is a verdict ------------------------------------------------------------------------------
@pytest.mark.parametrize("over", [
    {"state": 0}, {"state": 2}, {"state": -2}, {"state": None}, {"state": "done"}, {"state": 1.5}, {"state": -1.2},
    {"state": True}, {"state": [1]},
    {"state": 1, "results": {}},                                   # "results recognized" but none readable
    {"state": 1, "results": None},
    {"state": 1, "results": {"speech": [{"x": 1}]}},               # no music / custom / cover list at all
    {"state": 1, "results": {"music": [], "custom_files": [], "cover_songs": []}},
    {"results": {"music": ["a match we cannot read"]}},
    {"results": {"music": [None]}},
    {"results": {"music": {"0": MATCH}}},
    {"results": ["music"]},
    {"results": "none"},
    {"cid": 8},                                                    # another container's file
    {"engine": 3},                                                 # scanned with another engine
    {"engine": "x"},
])
def test_no_verdict_is_never_clean(over):
    with pytest.raises(InvalidResponseError, match="f1|scan file"):
        scan_verdict(record(**over), container_id=7, engine=1)


@pytest.mark.parametrize(("over", "matched"), [
    ({}, False), ({"state": "-1"}, False), ({"state": -1.0}, False), ({"cid": "7"}, False), ({"engine": None}, False),
    ({"state": 1, "results": {"music": [MATCH]}}, True),
    ({"state": 1, "results": {"custom_files": [MATCH]}}, True),
    ({"state": -1, "results": {"cover_songs": [MATCH]}}, True),    # a match is a match, whatever the state
])
def test_finished_scans_give_a_verdict(over, matched):
    assert scan_verdict(record(**over), container_id=7, engine=1)["matched"] is matched


@pytest.mark.parametrize("state", [1.5, 0.5, -1.5, "1.0e0x", float("nan"), float("inf"), True, 10**30])
def test_fractional_or_odd_states_are_never_a_verdict(state):
    result = parse_fs_files_status([{"id": "f1", "state": state}], ["f1"], container_id=7)
    assert result.state == "running" and result.unknown  # polled on (warned once) until the deadline, never clean
    assert to_int(state) is None


# ---- operator, against the emulator -------------------------------------------------------------------------
@pytest.fixture
def emu(music_emulator):
    music_emulator.state.settings["acrcloud.job_seconds"] = 0.05
    return music_emulator


@pytest.fixture
def track(tmp_path):
    path = tmp_path / "song.wav"
    path.write_bytes(sine_wav(0.5, freq=350, sample_rate=8000))
    return path


@pytest.mark.integration
@pytest.mark.parametrize("hostile", [
    {"state": 1, "results": {}}, {"state": 0}, {"state": "weird"}, {"results": {"music": [7]}}, {"cid": 999999},
    {"engine": 2},
])
def test_hostile_final_answer_fails_the_task(emu, track, make_context, monkeypatch, hostile):
    real = AcrCloudHook.get_fs_files

    def answer(self, *args, **kwargs):
        return [{**rec, **hostile} for rec in real(self, *args, **kwargs)]

    monkeypatch.setattr(AcrCloudHook, "get_fs_files", answer)
    op = AcrCloudScanFileOperator(task_id="scan", source=str(track), poll_interval=0.05, timeout=1)
    with pytest.raises(MusicApiError) as exc:  # a verdict error, a failed poll or a timeout: never a result
        op.execute(make_context())
    assert "result" not in locals()  # and it says why:
    assert str(exc.value), exc.value


@pytest.mark.integration
def test_result_names_the_file_and_the_buckets(emu, track, make_context):
    result = AcrCloudScanFileOperator(task_id="scan", source=str(track), poll_interval=0.05).execute(make_context())
    assert result["source"] == str(track) and result["buckets"] == ["ACRCloud Music"] and result["engine"] == 1
    assert result["container_id"] and result["file_id"] and result["state"] == -1


@pytest.mark.integration
def test_lost_upload_with_a_fixed_name_is_not_answered_by_an_older_file(emu, track, tmp_path, make_context):
    """A fixed ``name`` is shared by every run: the file found by it may be yesterday's audio."""
    other = tmp_path / "other.wav"
    other.write_bytes(sine_wav(0.5, freq=900, sample_rate=8000))
    AcrCloudScanFileOperator(task_id="scan", source=str(other), name="nightly", poll_interval=0.05).execute(
        make_context())
    emu.state.add_fault(path=r"^/api/fs-containers/\d+/files$", method="POST", status=500, after=True, times=1)
    op = AcrCloudScanFileOperator(task_id="scan", source=str(track), name="nightly", poll_interval=0.05)
    with pytest.raises(LostAnswerError, match="may have been created; ids unknown"):
        op.execute(make_context())
    assert len(store_of(emu.state).fs_files) == 2  # uploaded once, never again


@pytest.mark.integration
def test_lost_upload_name_held_twice_is_no_answer(emu, track, make_context, monkeypatch):
    op = AcrCloudScanFileOperator(task_id="scan", source=str(track), poll_interval=0.05)
    monkeypatch.setattr(AcrCloudHook, "list_fs_files", lambda self, cid, **kw: {"data": [
        {"id": "a", "name": kw["search"]}, {"id": "b", "name": kw["search"]}], "meta": {}, "links": {}})
    assert op._uploaded(1, None, "x [m]") == {}


@pytest.mark.integration
def test_a_failed_scan_is_not_reused_by_the_next_try(emu, track, make_context):
    store = store_of(emu.state)
    emu.state.settings["acrcloud.fs_error_rate"] = 1.0
    op = AcrCloudScanFileOperator(task_id="scan", source=str(track), poll_interval=0.05)
    ctx = make_context()
    with pytest.raises(MusicApiError):
        op.execute(ctx)
    emu.state.settings["acrcloud.fs_error_rate"] = 0.0
    ctx["ti"].try_number = 2
    result = AcrCloudScanFileOperator(task_id="scan", source=str(track), poll_interval=0.05).execute(ctx)
    assert result["state"] == -1 and len(store.fs_files) == 2


# ---- templated bucket lists ------------------------------------------------------------------------------
@pytest.mark.parametrize("text", ["['ACRCloud Music', 8881]", '["ACRCloud Music", "8881"]', " [8881, 'ACRCloud Music'] "])
def test_a_bucket_list_rendered_as_text_is_the_same_configuration(text):
    from airflow_provider_music.contract.acrcloud_fs import ScanConfig

    assert ScanConfig.build(region="eu-west-1", buckets=text) == ScanConfig.build(
        region="eu-west-1", buckets=["ACRCloud Music", 8881])


@pytest.mark.parametrize("text", ["[oops", "[{'a': 1}]", "[]", "[None]"])
def test_a_broken_rendered_bucket_list_names_the_argument(text):
    from airflow_provider_music.contract.acrcloud_fs import ScanConfig
    from airflow_provider_music.core import InvalidInputError

    with pytest.raises(InvalidInputError, match="buckets"):
        ScanConfig.build(region="eu-west-1", buckets=text)


# ---- the container itself: unreadable answers and a container deleted mid-scan -------------------------------
@pytest.mark.parametrize("buckets", [[{"id": 23, "name": "ACRCloud Music"}, None],
                                     [{"id": 23, "name": "ACRCloud Music"}, 8881.0],
                                     [{"id": 23, "name": "ACRCloud Music"}, " "], "ACRCloud Music", None])
def test_unreadable_container_buckets_are_no_verdict(buckets):
    from airflow_provider_music.contract.acrcloud_fs import ScanConfig, container_mismatches

    with pytest.raises(InvalidResponseError):
        container_mismatches({"id": 5, "buckets": buckets, "engine": 1}, ScanConfig.build(region="eu-west-1"))


@pytest.mark.parametrize("cid", [None, "abc", 1.5, True, -4, float("nan")])
def test_a_container_without_a_usable_id_is_an_invalid_answer(cid):
    from airflow_provider_music.contract.acrcloud_fs import container_id_of

    with pytest.raises(InvalidResponseError):
        container_id_of({"id": cid})


@pytest.mark.integration
@pytest.mark.parametrize("deferrable", [False, True])
def test_container_deleted_mid_scan_fails_loudly(emu, track, make_context, deferrable):
    import asyncio

    from airflow.providers.common.compat.sdk import TaskDeferred

    emu.state.settings["acrcloud.job_seconds"] = 30
    op = AcrCloudScanFileOperator(task_id="scan", source=str(track), poll_interval=0.05, timeout=20,
                                  deferrable=deferrable)
    ctx = make_context()
    hook = AcrCloudHook()
    if not deferrable:  # the container answers 404 while the scan runs
        emu.state.add_fault(path=r"^/api/fs-containers/\d+/files/", method="GET", status=404)
        with pytest.raises(MusicApiError, match="404|not found") as failed:
            op.execute(ctx)
        assert "Timed out" not in str(failed.value)
        return
    with pytest.raises(TaskDeferred) as exc:
        op.execute(ctx)
    hook.delete_fs_container(exc.value.kwargs["record"]["container_id"])

    async def first():
        async for event in exc.value.trigger.run():
            return event

    event = asyncio.run(first())
    with pytest.raises(MusicApiError, match="404|not found"):
        op.execute_complete(ctx, event.payload, **exc.value.kwargs)
