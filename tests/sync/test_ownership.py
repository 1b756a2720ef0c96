"""A sync manages its own catalog's files only, and a hostile upload answer fails one track (issue 21 §1).

Classes of defect: (1) a run without ``catalog_id`` took every file with a ``catalog_path`` as its own and
deleted (or "replaced") another catalog's labelled files; files labelled with another ``catalog_id`` are now
never touched unless the run names that label in ``adopt_catalog_ids``. (2) An upload answer whose file id is
no id (an object, text, a bool, a fraction, negative, missing) raised ``TypeError``/``ValueError`` outside the
error handling and ended the run; it is now an ``InvalidResponseError`` naming the field, that track fails,
the rest of the run goes on, the task fails at the end naming the track, and nothing is uploaded twice.
"""

from __future__ import annotations

import json

import pytest
from airflow.providers.common.compat.sdk import AirflowException

from airflow_provider_music.core import InvalidInputError, InvalidResponseError
from airflow_provider_music.hooks.acrcloud import AcrCloudHook
from airflow_provider_music.sync import plan as P
from airflow_provider_music.testing.audio import sine_wav
from tests.sync.conftest import bucket_paths, files, make_catalog, sync_op, write_track

pytestmark = pytest.mark.integration
UPLOAD = r"^/api/buckets/\d+/files$"


# ---- another catalog's files ---------------------------------------------------------------------------------
def labelled(emu, bucket, label):
    return [f for f in files(emu, bucket) if f.user_defined.get("catalog_id") == label]


def test_a_run_without_catalog_id_never_touches_labelled_files(emu, bucket, tmp_path, make_context):
    a, b = tmp_path / "a", tmp_path / "b"
    make_catalog(a, 20)
    sync_op(a, bucket, catalog_id="label-A").execute(make_context())
    b_paths = make_catalog(b, 10)  # the same relative paths as half of label-A's, other content
    for i, path in enumerate(b_paths):
        write_track(path, 300 + i, seconds=0.07)
    result = sync_op(b, bucket, delete_missing=True, max_delete_ratio=1.0).execute(make_context())
    assert result["deleted"] == 0 and result["replaced"] == 0 and result["uploaded"] == 10
    assert len(labelled(emu, bucket, "label-A")) == 20  # all of label-A's files are still there
    assert sync_op(b, bucket, delete_missing=True, max_delete_ratio=1.0).execute(make_context())["unchanged"] == 10


def test_adopting_another_label_is_explicit(emu, bucket, tmp_path, make_context):
    a = tmp_path / "a"
    paths = make_catalog(a, 6)
    sync_op(a, bucket, catalog_id="label-A").execute(make_context())
    paths[0].unlink()
    result = sync_op(a, bucket, catalog_id="label-B", adopt_catalog_ids=["label-A"], delete_missing=True).execute(
        make_context())
    assert result["uploaded"] == 0 and result["deleted"] == 1 and result["updated"] == 5  # relabelled, not re-sent
    assert len(labelled(emu, bucket, "label-B")) == 5 and not labelled(emu, bucket, "label-A")
    assert sync_op(a, bucket, catalog_id="label-B").execute(make_context())["unchanged"] == 5


@pytest.mark.parametrize(("label", "run", "adopt", "mine"), [
    ("L", None, (), False), (None, None, (), True), ("L", "L", (), True), (None, "L", (), False),
    ("L", None, ("L",), True), (None, "M", (None,), True), ("K", "M", ("L",), False),
])
def test_record_of_owns_only_its_label(label, run, adopt, mine):
    ud = {"catalog_path": "a.wav", **({"catalog_id": label} if label else {})}
    assert (P.record_of({"id": 7, "state": 1, "user_defined": ud}, run, adopt=adopt) is not None) is mine


@pytest.mark.parametrize("adopt", ["label-A", [""], [3], ["ok", {"x": 1}]])
def test_bad_adopt_catalog_ids_fail_at_parse_time(adopt):
    from airflow_provider_music.operators.acrcloud_sync import AcrCloudCatalogSyncOperator

    with pytest.raises(InvalidInputError, match="adopt_catalog_ids"):
        AcrCloudCatalogSyncOperator(task_id="s", catalog="/c", adopt_catalog_ids=adopt)


# ---- hostile upload answers ----------------------------------------------------------------------------------
HOSTILE_IDS = [{"nested": 1}, "not-a-number", [5], True, 1.5, -3, 0, None, "12abc", 2**70]


def hostile(emu, file_id, times=1):
    body = {"data": {"id": file_id, "state": 0, "title": "x", "user_defined": "{}"}}
    if file_id is None:
        del body["data"]["id"]
    return emu.add_fault(path=UPLOAD, method="POST", status=200, after=True, times=times, body=json.dumps(body))


@pytest.mark.parametrize("file_id", HOSTILE_IDS, ids=repr)
def test_hook_names_the_field_of_a_hostile_upload_answer(emu, bucket, file_id):
    hostile(emu, file_id)
    upload = __import__("io").BytesIO(sine_wav(0.05, sample_rate=8000))
    upload.name = "t.wav"
    with pytest.raises(InvalidResponseError, match=r"\bid\b"):
        AcrCloudHook().upload_file(bucket, data_type="audio", source=upload)


@pytest.mark.parametrize("file_id", [{"nested": 1}, "not-a-number", -3], ids=repr)
def test_a_hostile_answer_fails_one_track_and_the_run_goes_on(emu, bucket, tmp_path, make_context, file_id):
    catalog = tmp_path / "catalog"
    make_catalog(catalog, 8)
    rule = hostile(emu, file_id)
    context = make_context()
    with pytest.raises(AirflowException, match=r"1 track\(s\) failed.*\.wav.*\bid\b"):
        sync_op(catalog, bucket).execute(context)
    summary = context["ti"].xcom_pushed["sync_summary"]
    assert rule.hits == 1 and summary["uploaded"] == 7 and summary["failed"] == 1
    assert "InvalidResponseError" in summary["failed_paths"][0]["reason"] or "id" in summary["failed_paths"][0]["reason"]
    assert emu.count("POST", f"/api/buckets/{bucket}/files") == 8  # the hostile one was not sent again
    # the server stored that upload: the next run finds it by its markers and uploads nothing
    again = sync_op(catalog, bucket).execute(make_context())
    assert again["uploaded"] == 0 and again["failed"] == 0 and len(bucket_paths(emu, bucket)) == 8


def test_every_upload_answer_hostile_every_track_fails_nothing_crashes(emu, bucket, tmp_path, make_context):
    catalog = tmp_path / "catalog"
    make_catalog(catalog, 5)
    hostile(emu, "x", times=None)
    context = make_context()
    with pytest.raises(AirflowException, match=r"5 track\(s\) failed"):
        sync_op(catalog, bucket, mode="fingerprint", fingerprint_extractor=lambda p: b"FP").execute(context)
    assert emu.count("POST", f"/api/buckets/{bucket}/files") == 5
