"""Issue 21 §2 for ACRCloud file scanning: once a scan finished, what only DESCRIBES a match (titles, played
durations, offsets, the file's name and duration) never fails the task, whatever its type; the verdict fields
(state, container, engine, a readable match list) stay strict and fail closed. Driven through the scan
operator's finish and summary line against the emulator, with the scanned file's answer made hostile."""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_provider_music.core.errors import InvalidResponseError
from airflow_provider_music.hooks.acrcloud import AcrCloudHook
from airflow_provider_music.operators.acrcloud import AcrCloudScanFileOperator
from airflow_provider_music.testing.audio import write_sine_wav

ODD = {"duration_text": "3:20", "nan_text": "NaN", "object": {"a": {"b": 1}}, "list": [1, "x"], "number": 1e308,
       "bool": True, "empty": "", "none": None}


def _odd_match(odd: Any) -> dict[str, Any]:
    result = {"acrid": "a" * 32, "title": odd, "artists": odd, "album": odd, "duration_ms": odd, "score": odd,
              "release_date": odd, "external_ids": odd}
    return {"result": result, "played_duration": odd, "offset": odd, "type": odd}


@pytest.mark.parametrize("odd", list(ODD.values()), ids=list(ODD))
def test_scan_finishes_whatever_describe_only_fields_hold(emu, tmp_path, make_context, monkeypatch, odd):
    real = AcrCloudHook.get_fs_files

    def hostile(self: AcrCloudHook, *args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        return [{**r, "state": 1, "name": odd, "duration": odd, "uri": odd, "count": odd,
                 "results": {"music": [_odd_match(odd)], "custom_files": [], "cover_songs": []}}
                for r in real(self, *args, **kwargs)]

    monkeypatch.setattr(AcrCloudHook, "get_fs_files", hostile)
    op = AcrCloudScanFileOperator(task_id="scan", source=str(write_sine_wav(tmp_path / "t.wav", 0.2)),
                                  poll_interval=0.05, timeout=20)
    out = op.execute(make_context())
    assert out["matched"] is True and len(out["music"]) == 1
    assert op.summarize({}, out)  # the summary line is written
    json.dumps(out, allow_nan=False, default=str)


@pytest.mark.parametrize("results", [{"music": [1]}, {"music": "x"}, [1]])
def test_unreadable_matches_are_never_clean(emu, tmp_path, make_context, monkeypatch, results):
    real = AcrCloudHook.get_fs_files
    monkeypatch.setattr(AcrCloudHook, "get_fs_files", lambda self, *a, **k: [
        {**r, "state": 1, "results": results} for r in real(self, *a, **k)])
    op = AcrCloudScanFileOperator(task_id="scan", source=str(write_sine_wav(tmp_path / "t.wav", 0.2)),
                                  poll_interval=0.05, timeout=20)
    with pytest.raises(InvalidResponseError):
        op.execute(make_context())
