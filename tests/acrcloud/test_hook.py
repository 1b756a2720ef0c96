"""AcrCloudHook unit tests (requests_mock): every endpoint, quirk, validation and the identify signature."""

from __future__ import annotations

import io
import json
from urllib.parse import parse_qs, urlsplit

import pytest

from airflow_provider_music.core import (
    AuthenticationError,
    ClientRequestError,
    ConfigurationError,
    InvalidInputError,
    InvalidResponseError,
    NotFoundError,
    RateLimitError,
    ServerError,
    ValidationError,
)
from airflow_provider_music.hooks.acrcloud import (
    AcrCloudHook,
    check_identify_status,
    identify_signature,
    join_ids,
    normalize_file,
    page_meta,
    parse_dump_status,
    parse_files_status,
    parse_fs_files_status,
)
from airflow_provider_music.testing.audio import sine_wav
from tests.conftest import SECRET_TOKEN

BASE = "https://api-v2.acrcloud.com/api/"
FILE = {
    "uid": 1, "acr_id": "6d3e17559677cd79ecb0b7cd2c79bea0", "bucket_id": 8891, "state": 0, "title": "adsfad",
    "audio_id": "", "duration": "78.524082", "user_defined": {}, "updated_at": "2020-12-24T08:49:17.000000Z",
    "created_at": "2020-12-24T08:49:17.000000Z", "id": 20,
}


@pytest.fixture
def hook(set_connection) -> AcrCloudHook:
    set_connection(
        "acrcloud_default", "acrcloud", host=None,
        extra={"bucket_id": "8891", "identify_host": "identify-eu-west-1.acrcloud.com",
               "access_key": "my_access_key", "access_secret": "my_access_secret"},
    )
    return AcrCloudHook()


def page(items, *, page_no=1, last_page=1, per_page="20", total=None):
    return {
        "data": items,
        "links": {"first": f"{BASE}x?page=1", "last": f"{BASE}x?page={last_page}", "prev": None,
                  "next": None if page_no >= last_page else f"{BASE}x?page={page_no + 1}"},
        "meta": {"current_page": page_no, "from": 1, "last_page": last_page, "path": f"{BASE}x",
                 "per_page": per_page, "to": len(items), "total": total if total is not None else len(items)},
    }


# ---- pure helpers ------------------------------------------------------------------------------
def test_signature_fixed_vectors():
    # computed independently with: printf 'POST\n/v1/identify\n...' | openssl dgst -sha1 -hmac ... -binary | base64
    assert identify_signature("my_access_key", "my_access_secret", "fingerprint", "1600000000") == "h9N8zTsWGyNOoj8Yty+dt4TypJk="
    assert identify_signature("my_access_key", "my_access_secret", "audio", "1600000000.123") == "TtkU6cS8i0i9i20Pa6lno2PeClk="


@pytest.mark.parametrize(
    ("ids", "expected"),
    [
        (12, "12"),
        ("12,13", "12,13"),
        ([12, "13", "6d3e17559677cd79ecb0b7cd2c79bea0"], "12,13,6d3e17559677cd79ecb0b7cd2c79bea0"),
        (" 12 , 12,13 ", "12,13"),
        ((1, 2), "1,2"),
    ],
)
def test_join_ids_forms(ids, expected):
    assert join_ids(ids) == expected


@pytest.mark.parametrize("bad", [None, "", [], ",", [True], "../etc", "a/b", 1.5, [None], -3])
def test_join_ids_rejects(bad):
    with pytest.raises(InvalidInputError, match="ids"):
        join_ids(bad)


def test_normalize_quirks():
    rec = normalize_file({**FILE, "user_defined": '{"a": 1}', "state": "1", "bucket_id": "8891"})
    assert rec["duration"] == pytest.approx(78.524082)
    assert rec["user_defined"] == {"a": 1}
    assert rec["state"] == 1 and rec["bucket_id"] == 8891
    assert normalize_file({**FILE, "duration": 79, "user_defined": []})["duration"] == 79.0
    assert normalize_file({**FILE, "user_defined": None})["user_defined"] == {}
    assert page_meta({"meta": {"per_page": "20", "total": 7}})["per_page"] == 20
    assert page_meta({"meta": {"per_page": 100}})["per_page"] == 100


def test_parse_files_status_states():
    ready = {**FILE, "state": 1}
    assert parse_files_status([ready], ["20"]).state == "success"
    assert parse_files_status([FILE], ["20"]).state == "running"
    err = {**FILE, "id": 21, "acr_id": "a" * 32, "state": -1}
    assert parse_files_status([FILE, err], ["20", "21"]).state == "failed"
    # fail_fast=False: keep waiting for the others, fail at the end
    assert parse_files_status([FILE, err], ["20", "21"], fail_fast=False).state == "running"
    done = parse_files_status([ready, err], ["20", "21"], fail_fast=False)
    assert done.state == "failed" and done.payload["failed"][0]["id"] == 21
    # by acr_id; a missing file fails
    assert parse_files_status([ready], [FILE["acr_id"]]).state == "success"
    missing = parse_files_status([], ["99"])
    assert missing.state == "failed" and "not found" in missing.message


def test_parse_dump_and_fs_status():
    assert parse_dump_status({"status": 0, "task_id": "t"}, bucket_id=1).state == "running"
    ok = parse_dump_status({"status": 1, "down_url": "https://x/down/t", "task_id": "t"}, bucket_id=1)
    assert ok.state == "success" and "down_url" not in ok.payload
    assert parse_dump_status({"data": {"status": "1", "down_url": "u", "task_id": "t"}}, bucket_id=1).state == "success"
    recs = [{"id": "a", "state": 0}, {"id": "b", "state": 1}, {"id": "c", "state": -1}]
    assert parse_fs_files_status(recs, ["a", "b"], container_id=1).state == "running"
    assert parse_fs_files_status(recs, ["b", "c"], container_id=1).state == "success"
    for bad in (-2, -3):
        assert parse_fs_files_status([{"id": "d", "state": bad}], ["d"], container_id=1).state == "failed"


@pytest.mark.parametrize(
    ("code", "exc"),
    [(3001, AuthenticationError), (3014, AuthenticationError), (3006, ValidationError), (3003, ClientRequestError),
     (3015, RateLimitError), (3000, ServerError)],
)
def test_identify_status_codes(code, exc):
    with pytest.raises(exc):
        check_identify_status({"status": {"code": code, "msg": "x", "version": "1.0"}})
    assert check_identify_status({"status": {"code": 1001, "msg": "No result"}})["status"]["code"] == 1001
    with pytest.raises(InvalidResponseError):
        check_identify_status({"nope": 1})


# ---- connection --------------------------------------------------------------------------------
def test_connection_defaults_and_test_connection(hook, requests_mock):
    requests_mock.get(BASE + "buckets", json=page([]))
    assert hook.settings.base_url == BASE
    ok, message = hook.test_connection()
    assert ok and SECRET_TOKEN not in message
    req = requests_mock.last_request
    assert req.qs == {"per_page": ["1"]}
    assert req.headers["Authorization"] == f"Bearer {SECRET_TOKEN}"


def test_test_connection_bad_token(hook, requests_mock):
    requests_mock.get(BASE + "buckets", status_code=401, json={"message": "Unauthenticated."})
    ok, message = hook.test_connection()
    assert not ok and "401" in message and SECRET_TOKEN not in message


def test_ui_behaviour_and_widgets(monkeypatch):
    import sys
    from unittest import mock

    # Airflow 3's API server mocks FAB/WTForms the same way before calling the method
    for name in ("wtforms", "flask_babel", "flask_appbuilder", "flask_appbuilder.fieldwidgets"):
        monkeypatch.setitem(sys.modules, name, mock.MagicMock())
    behaviour = AcrCloudHook.get_ui_field_behaviour()
    assert "login" in behaviour["hidden_fields"]
    widgets = AcrCloudHook.get_connection_form_widgets()
    assert {"bucket_id", "region", "identify_host", "access_key", "access_secret"} <= set(widgets)


# ---- buckets -----------------------------------------------------------------------------------
def test_bucket_crud(hook, requests_mock):
    bucket = {"id": 8881, "name": "b", "size": "300000", "num": 10}
    post = requests_mock.post(BASE + "buckets", status_code=201, json={"data": bucket})
    assert hook.create_bucket("b", region="eu-west-1", labels=["Music"], metadata_template={"a": {"default": "x"}})["id"] == 8881
    sent = post.last_request.json()
    assert sent["type"] == "File" and sent["metadata_template"] == '{"a": {"default": "x"}}'
    requests_mock.get(BASE + "buckets/8881", json={"data": bucket})
    assert hook.get_bucket(8881)["name"] == "b"
    put = requests_mock.put(BASE + "buckets/8881", json={"data": {**bucket, "name": "c"}})
    assert hook.update_bucket(8881, name="c")["name"] == "c"
    assert put.last_request.json() == {"name": "c"}
    requests_mock.delete(BASE + "buckets/8881", status_code=204)
    hook.delete_bucket(8881)
    requests_mock.get(BASE + "buckets", json=page([bucket], per_page="20"))
    listed = hook.list_buckets(region="eu-west-1", type="File")
    assert listed["meta"]["per_page"] == 20 and listed["data"][0]["id"] == 8881


def test_bucket_validation(hook, requests_mock):
    with pytest.raises(InvalidInputError, match="region"):
        hook.create_bucket("b", region="mars-1")
    with pytest.raises(InvalidInputError, match="type"):
        hook.create_bucket("b", region="eu-west-1", type="Nope")
    with pytest.raises(InvalidInputError, match="bucket_id"):
        hook.get_bucket("abc")
    with pytest.raises(InvalidInputError):
        hook.update_bucket(1)
    assert not requests_mock.called


# ---- upload ------------------------------------------------------------------------------------
def _capture(store):
    def callback(request, context):
        body = request.body
        store.append(body.read() if hasattr(body, "read") else body)
        return {"data": FILE}

    return callback


def test_upload_audio_multipart_streams_file(hook, requests_mock, tmp_path):
    track = tmp_path / "song.mp3"
    track.write_bytes(b"ID3" + b"\x00" * 1000)
    bodies: list[bytes] = []
    m = requests_mock.post(BASE + "buckets/8891/files", status_code=200, json=_capture(bodies))
    rec = hook.upload_file(None, data_type="audio", source=str(track), title="adsfad", user_defined={"k": "v"})
    assert rec["id"] == 20 and rec["duration"] == pytest.approx(78.524082) and rec["user_defined"] == {}
    req = m.last_request
    assert req.headers["Content-Type"].startswith("multipart/form-data")
    body = bodies[0]
    assert b'name="user_defined"\r\n\r\n{"k": "v"}' in body  # JSON string in multipart
    assert b'name="data_type"\r\n\r\naudio' in body and b'filename="song.mp3"' in body
    assert b"ID3" + b"\x00" * 1000 in body


def test_upload_fingerprint_from_file_object_and_201(hook, requests_mock):
    requests_mock.post(BASE + "buckets/8891/files", status_code=201, json={"data": [FILE]})
    rec = hook.upload_file(8891, data_type="fingerprint", source=io.BytesIO(b"fp-bytes"))
    assert rec["acr_id"] == FILE["acr_id"]


def test_upload_url_and_acrid_send_json_object(hook, requests_mock):
    m = requests_mock.post(BASE + "buckets/8891/files", json={"data": FILE})
    hook.upload_file(8891, data_type="audio_url", url="https://host/x.mp3", title="t", user_defined={"artists": "a"})
    assert m.last_request.json() == {"data_type": "audio_url", "url": "https://host/x.mp3", "title": "t",
                                     "user_defined": {"artists": "a"}}
    hook.upload_file(8891, data_type="acrid", acrid="6d3e17559677cd79ecb0b7cd2c79bea0")
    assert m.last_request.json() == {"data_type": "acrid", "acrid": "6d3e17559677cd79ecb0b7cd2c79bea0"}


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"data_type": "video", "source": "x"}, "data_type"),
        ({"data_type": "audio"}, "source"),
        ({"data_type": "audio", "source": "/no/such/file.mp3"}, "not found"),
        ({"data_type": "audio_url"}, "url"),
        ({"data_type": "audio_url", "url": "file:///etc/passwd"}, "url"),
        ({"data_type": "acrid"}, "acrid"),
        ({"data_type": "audio_url", "url": "https://x/y", "user_defined": {"a": object()}}, "JSON-serialisable"),
        ({"data_type": "audio_url", "url": "https://x/y", "user_defined": [1]}, "dict"),
        ({"data_type": "audio_url", "url": "https://x/y", "user_defined": "{not json"}, "JSON"),
        ({"data_type": "audio_url", "url": "https://x/y", "source": "x"}, "no source"),
    ],
)
def test_upload_validation_before_request(hook, requests_mock, kwargs, match):
    with pytest.raises(InvalidInputError, match=match):
        hook.upload_file(8891, **kwargs)
    assert not requests_mock.called


def test_upload_needs_bucket(set_connection, requests_mock):
    set_connection("acrcloud_default", "acrcloud")
    with pytest.raises(InvalidInputError, match="bucket_id"):
        AcrCloudHook().upload_file(None, data_type="audio_url", url="https://x/y")


def test_upload_server_error_is_not_blindly_retried(hook, requests_mock):
    m = requests_mock.post(BASE + "buckets/8891/files", status_code=500, json={"message": "Server Error"})
    with pytest.raises(ServerError) as err:
        hook.upload_file(8891, data_type="audio_url", url="https://x/y")
    assert m.call_count == 1 and err.value.request_may_have_been_processed


def test_upload_422_is_validation_error(hook, requests_mock):
    requests_mock.post(BASE + "buckets/8891/files", status_code=422,
                       json={"message": "The given data was invalid.", "errors": {"url": ["bad"]}})
    with pytest.raises(ValidationError, match="given data was invalid"):
        hook.upload_file(8891, data_type="audio_url", url="https://x/y")


# ---- list / iter / get / update / delete / move -------------------------------------------------
def test_list_files_params_and_quirks(hook, requests_mock):
    m = requests_mock.get(BASE + "buckets/8891/files", json=page([{**FILE, "duration": 79}], per_page="20"))
    result = hook.list_files(8891, search="ads", sort="status", order="desc", page=2, per_page=50, state=-1)
    assert parse_qs(urlsplit(m.last_request.url).query) == {
        "search": ["ads"], "sort": ["status"], "order": ["desc"], "page": ["2"], "per_page": ["50"], "state": ["-1"]}
    assert result["data"][0]["duration"] == 79.0 and result["meta"]["per_page"] == 20
    for bad in ({"sort": "name"}, {"order": "up"}, {"state": 2}, {"per_page": 0}):
        with pytest.raises(InvalidInputError):
            hook.list_files(8891, **bad)


def test_iter_files_walks_pages_by_number(hook, requests_mock):
    pages = {
        "1": page([{**FILE, "id": 1}, {**FILE, "id": 2}], page_no=1, last_page=3, per_page="2"),
        "2": page([{**FILE, "id": 3}, {**FILE, "id": 4}], page_no=2, last_page=3, per_page=2),
        "3": page([{**FILE, "id": 5}], page_no=3, last_page=3, per_page="2"),
    }
    requests_mock.get(BASE + "buckets/8891/files", json=lambda req, ctx: pages[req.qs["page"][0]])
    assert [f["id"] for f in hook.iter_files(8891, per_page=2)] == [1, 2, 3, 4, 5]
    assert all(r.qs["per_page"] == ["2"] for r in requests_mock.request_history)


def test_get_files_batches_and_data_shapes(hook, requests_mock):
    import re

    requests_mock.get(re.compile(BASE + r"buckets/8891/files/[0-9,]+$"), json={"data": [FILE]})
    ids = list(range(1, 251))
    out = hook.get_files(8891, ids)
    assert len(out) == 3  # 100 + 100 + 50 ids -> 3 requests
    assert requests_mock.call_count == 3
    assert requests_mock.request_history[0].path.endswith("/files/" + ",".join(map(str, range(1, 101))))
    requests_mock.get(BASE + "buckets/8891/files/20", json={"data": FILE})  # object instead of a list
    assert hook.get_files(8891, 20)[0]["id"] == 20


def test_update_file_json_object(hook, requests_mock):
    m = requests_mock.put(BASE + "buckets/8891/files/20", json={"data": {**FILE, "title": "update-title"}})
    assert hook.update_file(8891, 20, title="update-title", user_defined={"artists": "x"})["title"] == "update-title"
    assert m.last_request.json() == {"title": "update-title", "user_defined": {"artists": "x"}}
    with pytest.raises(InvalidInputError, match="title and/or"):
        hook.update_file(8891, 20)
    with pytest.raises(InvalidInputError, match="exactly one"):
        hook.update_file(8891, [1, 2], title="x")


def test_delete_files_batches_and_missing_ok(hook, requests_mock):
    m = requests_mock.delete(BASE + "buckets/8891/files/12,13", status_code=204)
    assert hook.delete_files(8891, "12,13") == ["12", "13"]
    assert m.called
    requests_mock.delete(BASE + "buckets/8891/files/99", status_code=404, json={"message": "Files not found."})
    assert hook.delete_files(8891, 99) == ["99"]
    with pytest.raises(NotFoundError):
        hook.delete_files(8891, 99, missing_ok=False)


def test_move_files_documented_path(hook, requests_mock):
    m = requests_mock.put(BASE + "buckets/8892/files/12,13/move", json={"data": [FILE]})
    hook.move_files(8892, [12, 13])
    assert m.called
    requests_mock.put(BASE + "buckets/8892/files/14/move", status_code=204)
    assert hook.move_files(8892, 14) == []
    with pytest.raises(InvalidInputError, match="target_bucket_id"):
        hook.move_files("x", [1])


# ---- dump ----------------------------------------------------------------------------------------
def test_dump_falls_back_to_cli_path(hook, requests_mock):
    requests_mock.get(BASE + "buckets/8891/dump", status_code=404, json={"message": "Not found"})
    requests_mock.get(BASE + "buckets/8891/files/dump", json={"status": 0, "task_id": "t1", "id": 8891})
    assert hook.dump_status(8891).state == "running"


def test_dump_download_sends_token_to_acrcloud_hosts_only(hook, requests_mock, tmp_path):
    down = "https://us-api-v2.acrcloud.com/api/buckets/8891/down/sFKD2eLbGX"
    requests_mock.get(BASE + "buckets/8891/dump", json={"status": 1, "down_url": down, "task_id": "sFKD2eLbGX"})
    requests_mock.get(down, content=b'[{"id": 1}]', headers={"Content-Length": "11"})
    out = hook.download_dump(8891, tmp_path / "dump.json")
    assert json.loads(out.read_text()) == [{"id": 1}]
    assert requests_mock.last_request.headers["Authorization"] == f"Bearer {SECRET_TOKEN}"
    requests_mock.get(BASE + "buckets/8891/dump", json={"status": 1, "down_url": "https://evil.example/x", "task_id": "t"})
    requests_mock.get("https://evil.example/x", content=b"[]")
    hook.download_dump(8891, tmp_path / "dump2.json")
    assert "Authorization" not in requests_mock.last_request.headers


def test_dump_not_ready(hook, requests_mock, tmp_path):
    requests_mock.get(BASE + "buckets/8891/dump", json={"status": 0, "task_id": "t"})
    with pytest.raises(Exception, match="not ready"):
        hook.download_dump(8891, tmp_path / "d.json")


def test_configured_dump_path(set_connection, requests_mock):
    set_connection("acrcloud_default", "acrcloud", extra={"dump_path": "files/dump"})
    requests_mock.get(BASE + "buckets/5/files/dump", json={"data": {"status": 0, "task_id": "t"}})
    assert AcrCloudHook().dump_status(5).state == "running"
    set_connection("acrcloud_default", "acrcloud", extra={"dump_path": "weird"})
    with pytest.raises(ConfigurationError):
        AcrCloudHook().dump_status(5)


# ---- file scanning -------------------------------------------------------------------------------
def test_fs_containers_and_files(hook, requests_mock, tmp_path):
    container = {"id": 101, "name": "c", "region": "eu-west-1"}
    post = requests_mock.post(BASE + "fs-containers", status_code=201, json={"data": container})
    hook.create_fs_container("c", region="eu-west-1", buckets=[8891, "ACRCloud Music"], ai_detection=True)
    assert post.last_request.json()["buckets"] == [8891, "ACRCloud Music"] and post.last_request.json()["ai_detection"]
    requests_mock.get(BASE + "fs-containers", json=page([container]))
    assert hook.list_fs_containers(name="c")["data"][0]["id"] == 101
    requests_mock.get(BASE + "fs-containers/101", json={"data": container})
    assert hook.get_fs_container(101)["name"] == "c"
    requests_mock.put(BASE + "fs-containers/101", json={"data": container})
    hook.update_fs_container(101, name="d")
    requests_mock.delete(BASE + "fs-containers/101", status_code=204)
    hook.delete_fs_container(101)

    audio = tmp_path / "a.wav"
    audio.write_bytes(sine_wav(0.1, sample_rate=8000))
    requests_mock.post(BASE + "fs-containers/101/files", json={"data": {"file_id": "uuid-1"}})
    assert hook.upload_fs_file(101, source=audio, name="a")["id"] == "uuid-1"
    m = requests_mock.post(BASE + "fs-containers/101/files", json={"data": {"id": "uuid-2"}})
    hook.upload_fs_file(101, data_type="platforms", url="https://www.youtube.com/watch?v=x")
    assert m.last_request.json() == {"data_type": "platforms", "url": "https://www.youtube.com/watch?v=x"}
    requests_mock.get(BASE + "fs-containers/101/files/uuid-1", json={"data": {"id": "uuid-1", "state": 1}})
    assert hook.fs_files_status(101, "uuid-1").state == "success"
    requests_mock.get(BASE + "fs-containers/101/files/uuid-1,uuid-2",
                      json={"data": [{"id": "uuid-1", "state": 1}, {"id": "uuid-2", "state": 0}]})
    assert hook.fs_files_status(101, ["uuid-1", "uuid-2"]).state == "running"
    requests_mock.get(BASE + "fs-containers/101/files", json=page([]))
    hook.list_fs_files(101, with_result=True)
    assert requests_mock.last_request.qs == {"with_result": ["1"]}
    requests_mock.delete(BASE + "fs-containers/101/files/uuid-1", status_code=204)
    hook.delete_fs_files(101, "uuid-1")
    requests_mock.put(BASE + "fs-containers/101/files/uuid-1/rescan", json={"data": []})
    hook.rescan_fs_files(101, "uuid-1")
    with pytest.raises(InvalidInputError, match="engine"):
        hook.create_fs_container("c", region="eu-west-1", buckets=[1], engine=9)
    with pytest.raises(InvalidInputError, match="url"):
        hook.upload_fs_file(101, data_type="audio_url")


# ---- identify -------------------------------------------------------------------------------------
def test_identify_signs_request(hook, requests_mock):
    bodies: list[bytes] = []

    def answer_cb(request, context):
        bodies.append(request.body.read() if hasattr(request.body, "read") else request.body)
        return {"status": {"code": 0, "msg": "Success"}, "metadata": {"music": [{"title": "x"}]}}

    m = requests_mock.post("https://identify-eu-west-1.acrcloud.com/v1/identify", json=answer_cb)
    answer = hook.identify(b"sample-bytes", "fingerprint", timestamp="1600000000")
    assert answer["metadata"]["music"][0]["title"] == "x"
    req = m.last_request
    assert "Authorization" not in req.headers  # the console token never goes to the identify host
    body = bodies[0]
    assert b"h9N8zTsWGyNOoj8Yty+dt4TypJk=" in body and b"my_access_secret" not in body
    assert b'name="sample_bytes"\r\n\r\n12' in body


def test_identify_errors_and_config(hook, requests_mock, set_connection):
    requests_mock.post("https://identify-eu-west-1.acrcloud.com/v1/identify",
                       json={"status": {"code": 3014, "msg": "Invalid Signature"}})
    from airflow_provider_music.testing.audio import sine_wav

    sample = sine_wav(0.05, sample_rate=8000)  # identify(data_type="audio") checks the sample is audio
    with pytest.raises(AuthenticationError, match="3014"):
        hook.identify(sample)
    with pytest.raises(InvalidInputError, match="data_type"):
        hook.identify(sample, "video")
    with pytest.raises(InvalidInputError, match="sample"):
        hook.identify(b"x")
    set_connection("acrcloud_default", "acrcloud")
    with pytest.raises(ConfigurationError, match="access_key"):
        AcrCloudHook().identify(sample)
