"""The example DAGs: import without a DB, run end to end with `airflow dags test` against the emulator.

Every DAG runs once (module-scoped, a few minutes in all) with a distinctive token in every connection
(FlowMusic composes by default; one run selects Riffusion through the ``composer`` Param);
the tests then check task states, the files written, that deferred tasks ran their triggers, and that the
token appears nowhere: not in the output, the log files under the Airflow home, XComs or rendered fields.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from airflow_provider_music.testing.dagtest import AirflowHome, DagTestResult
from tests.lineage.events import lineage_env

ROOT = Path(__file__).resolve().parents[2]
DAGS_FOLDER = ROOT / "example_dags"
EXAMPLE_DAGS = (
    "example_assets_producer",
    "example_music_pipeline",
    "example_nightly_ai_screen",
    "example_nightly_catalog_fingerprint",
    "example_scheduled_compose",
    "example_stems_comparison",
    "example_stems_on_new_song",
)
#: Checked on import only (asset-scheduled: run by events; example_assets_consumer is driven below by the
#: producer's real asset events, the on-change fingerprint DAG is example_nightly_catalog_fingerprint's tasks)
IMPORT_ONLY = ("example_assets_consumer", "example_catalog_fingerprint_on_change")
#: Extra runs with another configuration: (label, dag_id, conf).
VARIANT_RUNS = (("example_scheduled_compose[riffusion]", "example_scheduled_compose", {"composer": "riffusion"}),)
TOKEN = "tok-EXAMPLE-7d3f0c1b-must-not-leak"
#: Runs with the OpenLineage provider on (file transport into the Airflow home): checked in tests/lineage.
LINEAGE_RUNS = ("example_music_pipeline",)
LINEAGE_EVENTS = "openlineage-events.jsonl"

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]  # one module fixture runs every DAG (~1 min each)


def test_example_dags_import_without_db():
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow 3.0 (the matrix runs this test on every supported version)
        from airflow.models.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS_FOLDER))
    assert bag.import_errors == {}
    assert set(EXAMPLE_DAGS + IMPORT_ONLY) <= set(bag.dag_ids)
    for dag_id in EXAMPLE_DAGS + IMPORT_ONLY:
        dag = bag.dags[dag_id]
        assert dag.tags and "example" in dag.tags
        assert dag.description


@pytest.fixture(scope="module")
def runs(music_emulator_server, tmp_path_factory) -> dict[str, tuple[DagTestResult, Path, AirflowHome]]:
    emulator = music_emulator_server
    emulator.reset()
    emulator.state.tokens.add(TOKEN)
    emulator.state.job_seconds = 0.3
    home = AirflowHome(tmp_path_factory.mktemp("airflow-home"), dags_folder=DAGS_FOLDER)
    env = emulator.env(token=TOKEN)
    results = {}
    try:
        for label, dag_id, conf in [(d, d, {}) for d in EXAMPLE_DAGS] + list(VARIANT_RUNS):
            output = tmp_path_factory.mktemp(dag_id)
            run_conf = {"output_dir": str(output), **conf}
            run_env = {**env, **lineage_env(home.path / LINEAGE_EVENTS)} if label in LINEAGE_RUNS else env
            results[label] = (home.dags_test(dag_id, env=run_env, conf=run_conf), output, home)
    finally:
        emulator.state.tokens.discard(TOKEN)
        emulator.reset()
    return results


@pytest.mark.parametrize("dag_id", EXAMPLE_DAGS + tuple(label for label, _, _ in VARIANT_RUNS))
def test_example_dag_runs_to_success(runs, dag_id):
    result, _, _ = runs[dag_id]
    assert result.ok, f"{dag_id} failed tasks {result.failed_tasks()}:\n{result.output[-4000:]}"


def test_music_pipeline_outputs_and_deferral(runs):
    result, output, _ = runs["example_music_pipeline"]
    songs = sorted((output / "songs").glob("*.wav"))
    assert len(songs) == 4  # two FlowMusic generations, an A/B pair each
    assert result.states["upload_reference"] == "skipped" and result.states["generate_variation[1]"] == "success"
    for song in songs:
        stems = {p.name for p in (output / "stems" / song.stem).iterdir()}
        assert stems == {"vocals.wav", "drums.wav", "bass.wav", "other.wav"}
        assert all((output / "stems" / song.stem / s).stat().st_size > 44 for s in stems)
    assert "[DAG TEST] running trigger in line" in result.output  # the compose tasks deferred
    assert result.states["fingerprint_stems"] == "success"
    assert [k for k in result.states if k.startswith("copyright_scan[")] == [f"copyright_scan[{i}]" for i in range(4)]
    assert not list(output.rglob("*.part"))


def test_music_pipeline_cost_report(runs):
    """The run ends with what it cost, per task and in total per unit; "unknown" where a service reports none."""
    result, output, _ = runs["example_music_pipeline"]
    report = json.loads((output / "cost-report.json").read_text())
    assert report["tasks"]["generate_variation"] == {"credits": 10.0}  # two songs x 5 credits (GET accounts/usage)
    assert report["tasks"]["download_flowmusic"] == {"credits": 0.0}  # downloads are documented free
    assert report["tasks"]["separate_stems"] == {"credits": "unknown"}  # the legacy Jobs API reports no cost
    assert report["tasks"]["copyright_scan"] == {"ACRCloud plan quota": "unknown"}
    assert report["total"] == {"credits": "10 + unknown", "ACRCloud plan quota": "unknown"}
    assert "compose_variation" not in report["tasks"] and "Run cost: total" in result.output


def test_nightly_catalog_report_and_dump(runs):
    _, output, _ = runs["example_nightly_catalog_fingerprint"]
    report = json.loads((output / "catalog" / "sync-report.json").read_text())
    assert report["counts"]["total"] == 12 and report["counts"]["failed"] == 0
    assert report["counts"]["uploaded"] == 12
    assert Path(report["dump"].removeprefix("file://")).stat().st_size > 0


def test_nightly_ai_screen_report_names_both_verdicts(runs):
    result, output, _ = runs["example_nightly_ai_screen"]
    assert result.states["screen"] == "success" and result.states["write_report"] == "success"
    [report_path] = list((output / "ai-screen").glob("*/report.json"))
    report = json.loads(report_path.read_text())
    assert report["counts"] == {"tracks": 4, "matched": 0, "ai": 2, "human": 2}
    by_name = {Path(t["path"]).name: t for t in report["tracks"]}
    assert by_name["suno-sketch-03.wav"]["ai_verdict"] == "ai" and by_name["track-04.wav"]["ai_verdict"] == "ai"
    assert by_name["track-04.wav"]["ai_likely_source"] == "suno" and by_name["track-04.wav"]["ai_probability"] >= 0.9
    assert by_name["track-01.wav"]["ai_verdict"] == "human" and by_name["track-01.wav"]["ai_probability"] < 0.5
    assert len((report_path.parent / "report.csv").read_text().splitlines()) == 5
    assert len(json.loads((output / "ai-screen" / "screened.json").read_text())) == 4  # recorded after the report
    assert not list(output.rglob("*.part"))


def test_scheduled_compose_and_stems_write_files(runs):
    _, compose_out, _ = runs["example_scheduled_compose"]
    assert len(list((compose_out / "songs").rglob("*.m4a"))) == 4
    riffusion, riffusion_out, _ = runs["example_scheduled_compose[riffusion]"]
    assert riffusion.states["generate"] == "skipped" and riffusion.states["compose[0]"] == "success"
    assert len(list((riffusion_out / "songs").rglob("*.m4a"))) == 4
    _, stems_out, _ = runs["example_stems_on_new_song"]
    assert len(list((stems_out / "stems").rglob("*.wav"))) == 4


def test_assets_producer_events_name_exactly_the_new_songs_for_the_consumer(runs):
    """Each mapped download emitted its own asset event whose ``extra`` names its files; the consumer's
    ``songs_of`` (what its first task returns) picks exactly those songs from the events."""
    import importlib.util
    from types import SimpleNamespace

    result, output, home = runs["example_assets_producer"]
    songs = sorted(str(p) for p in (output / "new-songs").rglob("*.m4a"))
    assert len(songs) == 4  # two generations, an A/B pair each
    with sqlite3.connect(home.path / "airflow.db") as db:
        rows = db.execute("SELECT e.source_map_index, e.extra FROM asset_event e JOIN asset a ON a.id = e.asset_id "
                          "WHERE a.name = 'new_songs' AND e.source_run_id = ?", (result.run_id,)).fetchall()
    extras = {index: json.loads(extra) for index, extra in rows}
    assert sorted(extras) == [0, 1]
    for index, extra in extras.items():
        assert len(extra["paths"]) == 2 and extra["task"]["map_index"] == index
        assert "cost" in extra and TOKEN not in json.dumps(extra)
    spec = importlib.util.spec_from_file_location("example_assets_consumer", DAGS_FOLDER / "example_assets_consumer.py")
    consumer = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(consumer)
    events = {"new_songs": [SimpleNamespace(extra=extra) for extra in extras.values()]}
    assert sorted(consumer.songs_of(events)) == songs


def test_stems_comparison_report(runs):
    _, output, _ = runs["example_stems_comparison"]
    report = json.loads((output / "comparison" / "report.json").read_text())
    assert sorted(report) == ["bass", "drums", "other", "vocals"]
    for stem in report.values():
        assert stem["flowmusic"]["seconds"] > 0 and stem["audioshake"]["seconds"] > 0
        assert stem["correlation"] is not None


def test_token_never_leaks(runs):
    home = next(iter(runs.values()))[2]
    texts = [result.output for result, _, _ in runs.values()]
    texts += [p.read_text(errors="replace") for p in home.path.rglob("*.log")]
    with sqlite3.connect(home.path / "airflow.db") as db:
        texts += [str(row) for row in db.execute("SELECT value FROM xcom")]
        texts += [str(row) for row in db.execute("SELECT rendered_fields FROM rendered_task_instance_fields")]
        texts += [str(row) for row in db.execute("SELECT kwargs FROM trigger")]
    assert len(texts) > len(runs)
    leaks = [t[max(0, t.find(TOKEN) - 200): t.find(TOKEN) + 50] for t in texts if TOKEN in t]
    assert not leaks, leaks[:3]


def test_music_pipeline_openlineage_events(runs):
    """The OpenLineage events of the run (real provider, file transport): tests/lineage/test_lineage_events.py."""
    from tests.lineage.test_lineage_events import check_pipeline_events

    result, output, home = runs["example_music_pipeline"]
    check_pipeline_events(home.path / LINEAGE_EVENTS, output, secrets=[TOKEN])
