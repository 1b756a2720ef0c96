"""The ACRCloud operator interface (issue 11) and definite vs ambiguous upload answers (issue 12 §6).

Classes: a definite error answer (404 unknown bucket, 422, 401) is never taken for a lost one (no
"looking for the file before uploading again", exactly one POST); an ambiguous one (5xx after the
request was processed, dropped connection) is looked up, never blindly re-sent. Operators take
``acrcloud_conn_id``; the ensure-bucket operator replaces hand-rolled ``list_buckets()`` paging; the scan
operator takes a mapped download's list of paths.
"""

from __future__ import annotations

import pytest

from airflow_provider_music.contract.acrcloud import answer_was_lost
from airflow_provider_music.core import (
    ApiConnectionError,
    AuthenticationError,
    ClientRequestError,
    InvalidInputError,
    JobFailedError,
    MusicApiError,
    NotFoundError,
    RateLimitError,
    ServerError,
    ValidationError,
)
from airflow_provider_music.operators.acrcloud import (
    AcrCloudEnsureBucketOperator,
    AcrCloudScanFileOperator,
    AcrCloudUploadFileOperator,
)
from airflow_provider_music.testing.acrcloud import store_of
from airflow_provider_music.testing.audio import sine_wav

pytestmark = pytest.mark.integration


@pytest.fixture
def track(tmp_path):
    path = tmp_path / "song.wav"
    path.write_bytes(sine_wav(0.5, freq=330, sample_rate=8000))
    return path


# ---- definite vs ambiguous -------------------------------------------------------------------------------
@pytest.mark.parametrize(("error", "lost"), [
    (NotFoundError("404", status=404), False),
    (ValidationError("422", status=422), False),
    (AuthenticationError("401", status=401), False),
    (ClientRequestError("409", status=409), False),
    (RateLimitError("429", status=429, request_may_have_been_processed=False), False),
    (ServerError("500", status=500), True),
    (ServerError("503", status=503, request_may_have_been_processed=False), False),
    (ApiConnectionError("dropped after sending"), True),
    (MusicApiError("read timed out"), True),
    (ValueError("not an API error"), False),
])
def test_answer_was_lost_only_for_ambiguous_failures(error, lost):
    assert answer_was_lost(error) is lost


def test_upload_to_unknown_bucket_is_a_definite_answer(emu, track, make_context, capsys):
    op = AcrCloudUploadFileOperator(task_id="up", bucket_id=424242, source=str(track), poll_interval=0.05)
    with pytest.raises(NotFoundError):
        op.execute(make_context())
    assert emu.count("POST", "/api/buckets/424242/files") == 1
    assert emu.count("GET", "/api/buckets/424242/files") == 0  # no "look first": nothing was created
    assert "answer lost" not in capsys.readouterr().out


@pytest.mark.parametrize("status", [401, 403, 404, 422])
def test_definite_4xx_on_upload_is_raised_once(emu, hook, track, make_context, status):
    bucket = hook.create_bucket("b", region="eu-west-1")["id"]
    emu.state.add_fault(path=rf"^/api/buckets/{bucket}/files$", method="POST", status=status, times=1)
    op = AcrCloudUploadFileOperator(task_id="up", bucket_id=bucket, source=str(track), poll_interval=0.05)
    with pytest.raises(MusicApiError):
        op.execute(make_context())
    assert emu.count("GET", f"/api/buckets/{bucket}/files") == 0
    assert store_of(emu.state).files_in(bucket) == []


def test_ambiguous_answer_not_found_fails_clearly_without_second_upload(emu, hook, track, make_context):
    bucket = hook.create_bucket("b", region="eu-west-1")["id"]
    emu.state.add_fault(path=rf"^/api/buckets/{bucket}/files$", method="POST", status=502, times=1)  # before processing
    op = AcrCloudUploadFileOperator(task_id="up", bucket_id=bucket, source=str(track), poll_interval=0.05)
    with pytest.raises(MusicApiError, match="may have been accepted"):
        op.execute(make_context())
    assert emu.count("POST", f"/api/buckets/{bucket}/files") == 1


def test_lost_scan_upload_is_found_not_resent(emu, track, make_context):
    emu.state.add_fault(path=r"^/api/fs-containers/\d+/files$", method="POST", status=500, after=True, times=1)
    result = AcrCloudScanFileOperator(task_id="scan", source=str(track), poll_interval=0.05).execute(make_context())
    assert result["state"] == -1 and len(store_of(emu.state).fs_files) == 1


# ---- connection argument -------------------------------------------------------------------------------
def test_operators_take_acrcloud_conn_id(emu, track):
    op = AcrCloudUploadFileOperator(task_id="up", bucket_id=1, source=str(track), acrcloud_conn_id="acrcloud_default")
    assert op.acrcloud_conn_id == "acrcloud_default" and "acrcloud_conn_id" in op.template_fields
    with pytest.raises(InvalidInputError, match="acrcloud_conn_id"):
        AcrCloudUploadFileOperator(task_id="up", bucket_id=1, source=str(track), conn_id="x")


@pytest.mark.parametrize("kwargs", [
    {"data_type": "video"}, {"bucket_id": "../1"}, {"bucket_id": "1?x"}, {"user_defined": {"a": float("nan")}},
    {"user_defined": "[1]"}, {"poll_interval": float("nan")}, {"timeout": float("inf")}, {"poll_interval": "x"},
])
def test_upload_bad_arguments_fail_at_parse_time(track, kwargs):
    with pytest.raises(InvalidInputError):
        AcrCloudUploadFileOperator(task_id="up", **{"bucket_id": 1, "source": str(track), **kwargs})


# ---- ensure bucket -----------------------------------------------------------------------------------------
def test_ensure_bucket_creates_once_and_finds_it_on_any_page(emu, hook, make_context):
    for i in range(130):  # more than one page of 100
        hook.create_bucket(f"filler-{i}", region="eu-west-1")
    op = AcrCloudEnsureBucketOperator(task_id="b", name="catalog", region="eu-west-1")
    ctx = make_context()
    first = op.execute(ctx)
    assert isinstance(first, int) and ctx["ti"].xcom_pushed["created"] is True
    again = AcrCloudEnsureBucketOperator(task_id="b", name="catalog", region="eu-west-1").execute(make_context())
    assert again == first
    assert [b["id"] for b in store_of(emu.state).buckets.values() if b["name"] == "catalog"] == [first]


def test_ensure_bucket_lost_create_answer_is_looked_up(emu, make_context):
    emu.state.add_fault(path=r"^/api/buckets$", method="POST", status=500, after=True, times=1)
    bucket = AcrCloudEnsureBucketOperator(task_id="b", name="late", region="eu-west-1").execute(make_context())
    assert [b["id"] for b in store_of(emu.state).buckets.values() if b["name"] == "late"] == [bucket]


@pytest.mark.parametrize("kwargs", [{"name": ""}, {"name": "x", "region": "mars-1"}, {"name": None}])
def test_ensure_bucket_checks_arguments_at_parse_time(kwargs):
    with pytest.raises(InvalidInputError):
        AcrCloudEnsureBucketOperator(task_id="b", **kwargs)


# ---- scan takes a mapped download's list of paths -------------------------------------------------------------
def test_scan_takes_a_list_of_lists_of_paths(emu, hook, tmp_path, make_context):
    bucket = hook.create_bucket("refs", region="eu-west-1")["id"]
    paths = []
    for i in range(3):
        p = tmp_path / f"s{i}.wav"
        p.write_bytes(sine_wav(0.3, freq=300 + 40 * i, sample_rate=8000))
        paths.append(str(p))
    hook.upload_file(bucket, data_type="audio", source=paths[1], title="Known")
    op = AcrCloudScanFileOperator(task_id="scan", source=[[paths[0], paths[1]], [paths[2]]], buckets=[bucket],
                                  poll_interval=0.05)
    results = op.execute(make_context())
    assert [r["source"] for r in results] == paths
    assert [r["matched"] for r in results] == [False, True, False]
    assert all(r["buckets"] == ["refs"] for r in results)
    with pytest.raises(JobFailedError, match="s1.wav"):
        AcrCloudScanFileOperator(task_id="scan2", source=paths, buckets=[bucket], fail_on_match=True,
                                 poll_interval=0.05).execute(make_context())
