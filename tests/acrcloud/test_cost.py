"""Issue 22 §3: ACRCloud reports no cost per request (billed per plan): "unknown", never a made-up 0; with no
price there is no estimate, so ``max_cost`` checks nothing and the work goes on (the log says so)."""

from __future__ import annotations

import pytest

from airflow_provider_music.core.errors import InvalidInputError
from airflow_provider_music.operators.acrcloud import AcrCloudScanFileOperator, AcrCloudUploadFileOperator
from airflow_provider_music.testing.audio import sine_wav

pytestmark = pytest.mark.integration


def test_upload_and_scan_report_unknown_cost(emu, hook, tmp_path, make_context, capsys):
    bucket = hook.create_bucket("songs", region="eu-west-1")["id"]
    track = tmp_path / "song.wav"
    track.write_bytes(sine_wav(0.5, freq=330, sample_rate=8000))
    up = AcrCloudUploadFileOperator(task_id="up", bucket_id=bucket, source=str(track), poll_interval=0.05,
                                    max_cost=0)
    out = up.execute(make_context())
    assert out["cost"] == {"amount": "unknown", "unit": "ACRCloud plan quota",
                           "source": "ACRCloud reports no cost per request (billed per plan)"}
    assert up.task_report.cost.amount is None and out["state"] == 1  # existing keys stay
    assert "not checked: no estimate" in capsys.readouterr().out
    with pytest.raises(InvalidInputError, match="max_cost"):
        AcrCloudScanFileOperator(task_id="scan", source=str(track), max_cost=-1)
