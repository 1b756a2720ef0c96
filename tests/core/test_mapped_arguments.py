"""Mapped tasks are checked before anything is paid: ``.partial()`` / ``.expand()`` arguments of EVERY operator
and sensor of the package (found by walking the package, so a new one fails here until it has a case).

* Parse time: a bad ``.partial()`` argument, a bad literal ``.expand(x=[...])`` item, a bad
  ``.expand_kwargs([{...}])`` dict and a missing required argument fail when the DAG file is parsed, with the
  exception and message a plain operator gives (plus a note naming the call); nothing is added to the DAG.
* Run time: a bad value that only an upstream task produces (``.expand(x=upstream.output)``) fails its mapped
  task under ``airflow dags test`` before a single request reaches the emulator.
"""

from __future__ import annotations

import datetime
import importlib
import inspect
import pkgutil
import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import airflow_provider_music.operators
import airflow_provider_music.sensors
from airflow_provider_music.core import InvalidInputError
from airflow_provider_music.operators.base import MusicJobOperator, MusicOperator
from airflow_provider_music.sensors.base import MusicJobSensor


def discover() -> dict[str, type]:
    """Every public operator/sensor class of the package with a hook (the concrete ones)."""
    found: dict[str, type] = {}
    for package in (airflow_provider_music.operators, airflow_provider_music.sensors):
        for module in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
            for name, obj in vars(importlib.import_module(module.name)).items():
                if (inspect.isclass(obj) and issubclass(obj, MusicOperator) and obj.__module__ == module.name
                        and not name.startswith("_") and "hook_class" in dir(obj) and not inspect.isabstract(obj)
                        and obj not in (MusicOperator, MusicJobOperator, MusicJobSensor)
                        and not name.endswith("BaseOperator")):  # the per-API bases (connection argument)
                    found[name] = obj
    return dict(sorted(found.items()))


OPERATORS = discover()


@dataclass(frozen=True)
class Case:
    """``good``: valid arguments (the required ones); ``argument`` refuses ``bad`` at parse time and accepts
    ``ok``; ``later``: (argument, value) refused only when the task runs (default: ``argument``, ``bad``)."""

    good: dict[str, Any]
    argument: str
    bad: Any
    ok: Any
    later: tuple[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def runtime(self) -> tuple[str, Any]:
        return self.later or (self.argument, self.bad)


def cases(root: Path) -> dict[str, Case]:
    song, out = str(root / "song.wav"), str(root / "out")
    return {
        "AcrCloudCatalogSyncOperator": Case({"catalog": str(root / "catalog")}, "mode", "bogus", "audio"),
        "AcrCloudDeleteFilesOperator": Case({"ids": [1]}, "ids", [None], [1]),
        "AcrCloudDumpBucketOperator": Case({"destination": out + "/"}, "bucket_id", "../1", 7),
        "AcrCloudDumpSensor": Case({}, "poke_interval", -5, 5, later=("bucket_id", "../1")),
        "AcrCloudEnsureBucketOperator": Case({"name": "catalog"}, "region", "mars-1", "eu-west-1"),
        "AcrCloudFileStateSensor": Case({"ids": [1], "bucket_id": 7}, "poke_interval", -5, 5, later=("ids", [None])),
        "AcrCloudMoveFilesOperator": Case({"ids": [1], "target_bucket_id": 2}, "target_bucket_id", "../2", 2),
        "AcrCloudScanFileOperator": Case({"source": song, "container_id": 5}, "data_type", "bogus", "audio"),
        "AcrCloudScanSensor": Case({"container_id": 5, "file_ids": [1]}, "poke_interval", -5, 5,
                                   later=("file_ids", [None])),
        "AcrCloudUpdateFileOperator": Case({"file_id": 1, "bucket_id": 7}, "user_defined", "not json", {"a": 1}),
        "AcrCloudUploadFileOperator": Case({"source": song, "bucket_id": 7}, "data_type", "bogus", "audio"),
        "AudioShakeJobSensor": Case({"job_ids": ["job1"]}, "poke_interval", -5, 5, later=("job_ids", "../job")),
        "AudioShakeStemSeparationOperator": Case({"source": song, "destination": out}, "stems", ["vocal"], ["vocals"]),
        "AudioShakeUploadOperator": Case({"source": song}, "recreate_on_lost_answer", "maybe", False),
        "FlowMusicDownloadOperator": Case({"clips": "job:1", "destination": out}, "source", "flac", "mp3"),
        "FlowMusicEditOperator": Case({"operation": "cover", "clip": "clip:1"}, "operation", "stemz", "cover"),
        "FlowMusicGenerateOperator": Case({"prompt": "calm piano"}, "ghostwriter", "ghost", "pro"),
        "FlowMusicJobSensor": Case({"jobid": "job:1"}, "poke_interval", -5, 5, later=("jobid", "../job")),
        "FlowMusicLyricsOperator": Case({"prompt": "rain"}, "flowmusic_conn_id", 5, "flowmusic_default"),
        "FlowMusicStemsOperator": Case({"clip": "clip:1", "destination": out}, "clip_index", 99, 1),
        "FlowMusicUploadOperator": Case({"source": song}, "content_type", "text/plain", "audio/wav"),
        "MurekaDownloadOperator": Case({"songs": "s1", "destination": out}, "mureka_conn_id", 5, "mureka_default"),
        "MurekaEditOperator": Case({"operation": "remix", "song": "s1"}, "operation", "cover", "remix"),
        "MurekaGenerateOperator": Case({"prompt": "calm piano"}, "kind", "bogus", "instrumental"),
        "MurekaJobSensor": Case({"jobid": "j1"}, "poke_interval", -5, 5, later=("jobid", "../job")),
        "MurekaLyricsOperator": Case({"prompt": "rain"}, "account", "jane@x", "12345678901234"),
        "MurekaStemsOperator": Case({"song": "s1", "destination": out}, "song_index", 99, 1),
        "MurekaUploadOperator": Case({"source": song, "title": "t", "genre": "pop", "mood": "calm"}, "kind", "bogus",
                                     "reference"),
        "RiffusionComposeOperator": Case({"prompt": "calm piano"}, "mode", "bogus", "prompt"),
        "RiffusionDownloadOperator": Case({"song_ids": ["s1"], "destination": out}, "download_format", "flac", "mp3"),
        "RiffusionSongSensor": Case({"job_ids": ["j1"]}, "poke_interval", -5, 5, later=("job_ids", ["../j"])),
        "RiffusionUploadAudioOperator": Case({"source": song}, "fail_on_copyright_match", "maybe", True),
        "RiffusionUploadAudioSensor": Case({"upload_id": "u1"}, "poke_interval", -5, 5, later=("upload_id", "../u")),
    }


CASES = cases(Path("/nonexistent-music-test"))
START = datetime.datetime(2024, 1, 1)


def dag(dag_id: str = "mapped_checks", **kwargs: Any) -> Any:
    from airflow.sdk import DAG

    return DAG(dag_id, schedule=None, start_date=START, **kwargs)


def without(kwargs: dict[str, Any], name: str) -> dict[str, Any]:
    return {k: v for k, v in kwargs.items() if k != name}


def plain_error(cls: type, kwargs: dict[str, Any]) -> Exception:
    with pytest.raises(Exception) as info, dag("plain"):
        cls(task_id="plain", **kwargs)
    return info.value


def notes(exc: BaseException) -> str:
    return " ".join(getattr(exc, "__notes__", []))


def test_every_operator_and_sensor_has_a_case():
    assert len(OPERATORS) >= 26
    assert set(OPERATORS) == set(CASES), "add a Case for each new operator or sensor"


# ---- parse time ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(OPERATORS))
def test_bad_partial_argument_fails_at_parse_time_like_a_plain_operator(name):
    cls, case = OPERATORS[name], CASES[name]
    kwargs = {**case.good, case.argument: case.bad}
    expected = plain_error(cls, kwargs)  # the check a plain operator makes when the DAG file is parsed
    assert case.argument in str(expected)
    with dag() as d, pytest.raises(type(expected)) as info:
        cls.partial(task_id="t", **kwargs)
    assert str(info.value) == str(expected)
    assert ".partial(task_id='t')" in notes(info.value) and "parsed" in notes(info.value)
    assert d.task_dict == {}


@pytest.mark.parametrize("name", list(OPERATORS))
def test_bad_literal_expand_item_fails_at_parse_time_naming_the_item(name):
    cls, case = OPERATORS[name], CASES[name]
    with dag() as d, pytest.raises(Exception) as info:
        cls.partial(task_id="t", **without(case.good, case.argument)).expand(**{case.argument: [case.ok, case.bad]})
    assert str(info.value) == str(plain_error(cls, {**case.good, case.argument: case.bad}))
    assert f".expand({case.argument}=[...]) item 1" in notes(info.value)
    assert d.task_dict == {}


@pytest.mark.parametrize("name", list(OPERATORS))
def test_good_arguments_map_both_ways(name):
    from airflow.sdk import task

    cls, case = OPERATORS[name], CASES[name]

    @task
    def values() -> list[Any]:
        return [case.ok]

    with dag() as d:
        cls.partial(task_id="literal", **without(case.good, case.argument)).expand(**{case.argument: [case.ok]})
        cls.partial(task_id="partial", **{**case.good, case.argument: case.ok}).expand(task_display_name=["x"])
        for argument in {case.argument, *case.good}:  # every argument may come from an upstream task
            cls.partial(task_id=f"later_{argument}", **without(case.good, argument)).expand(**{argument: values()})
    assert {"literal", "partial"} <= set(d.task_dict)


@pytest.mark.parametrize("name", list(OPERATORS))
def test_connection_argument_is_checked_in_partial(name):
    cls, case = OPERATORS[name], CASES[name]
    with dag(), pytest.raises(InvalidInputError, match=f"^{cls.conn_arg} must be a connection id"):
        cls.partial(task_id="t", **case.good, **{cls.conn_arg: 5})
    with dag(), pytest.raises(InvalidInputError, match=f"takes {cls.conn_arg}="):
        cls.partial(task_id="t", **case.good, conn_id="x")


@pytest.mark.parametrize("name", list(OPERATORS))
def test_every_connection_argument_maps_and_a_wrong_one_names_the_right_one(name):
    """The connection argument is in a real ``__init__`` signature (the API's base, as ``AwsBaseOperator``
    declares ``aws_conn_id``): ``.partial()`` and ``.expand()`` take it; every other API's argument and the
    legacy ``conn_id`` fail at parse time naming the right one, in ``.partial()``, ``.expand()`` and plain."""
    from airflow_provider_music.operators.base import KNOWN_CONN_ARGS

    cls, case = OPERATORS[name], CASES[name]
    declared = {k.__name__ for k in cls.__mro__ if cls.conn_arg in inspect.signature(k.__dict__.get("__init__",
                lambda: None)).parameters}
    assert declared, f"{name}: {cls.conn_arg} is in no __init__ signature"
    with dag() as d:
        cls.partial(task_id="p", **case.good, **{cls.conn_arg: "c1"}).expand(task_display_name=["x"])
        cls.partial(task_id="e", **case.good).expand(**{cls.conn_arg: ["c1", "c2"]})
    assert {"p", "e"} <= set(d.task_dict)
    for wrong in ("conn_id", *KNOWN_CONN_ARGS):
        if wrong == cls.conn_arg:
            continue
        message = f"takes {cls.conn_arg}= .*, not {wrong}="
        with dag(), pytest.raises(InvalidInputError, match=message):
            cls.partial(task_id="t", **case.good, **{wrong: "x"})
        with dag(), pytest.raises(InvalidInputError, match=message):
            cls.partial(task_id="t", **case.good).expand(**{wrong: ["x"]})
        with dag(), pytest.raises(InvalidInputError, match=message):
            cls(task_id="t", **case.good, **{wrong: "x"})


def test_nothing_patches_airflow_private_parameter_names():
    """Airflow's private ``_BaseOperatorMeta__param_names`` is read by Airflow only: no module of the package
    names it (the connection arguments are declared in real signatures instead)."""
    package = Path(airflow_provider_music.operators.__file__).parent.parent
    offenders = [str(path.relative_to(package)) for path in package.rglob("*.py")
                 if "__param_names" in path.read_text(encoding="utf-8")]
    assert offenders == []


WAIT_ARGUMENT = {name: "poke_interval" if issubclass(cls, MusicJobSensor) else "poll_interval"
                 for name, cls in OPERATORS.items() if issubclass(cls, MusicJobSensor | MusicJobOperator)}


@pytest.mark.parametrize("name", list(WAIT_ARGUMENT))
@pytest.mark.parametrize("value", [-5, 0, float("nan"), "soon"], ids=repr)
def test_wait_arguments_are_checked_in_partial_and_default_args(name, value):
    cls, case, argument = OPERATORS[name], CASES[name], WAIT_ARGUMENT[name]
    with dag(), pytest.raises(InvalidInputError, match=f"^{argument} must be"):
        cls.partial(task_id="t", **case.good, **{argument: value})
    # the DAG's default_args reach the checks as they reach a plain operator (and the operator when it runs)
    with dag(default_args={argument: value}):
        try:
            cls(task_id="plain", **case.good)
            expected: Exception | None = None
        except Exception as exc:
            expected = exc
    assert expected is not None  # sensors too: their poke_interval / timeout come from default_args
    with dag(default_args={argument: value}) as d:
        if expected is None:
            cls.partial(task_id="t", **without(case.good, "x")).expand(task_display_name=["x"])
        else:
            with pytest.raises(type(expected), match=re.escape(str(expected))):
                cls.partial(task_id="t", **case.good)
    assert list(d.task_dict) == (["t"] if expected is None else [])


def test_the_issue_example_fails_when_the_dag_file_is_parsed(tmp_path):
    """The report: stems=["vocal"] and poll_interval=-5 in .partial() parsed fine and failed after paid tasks."""
    try:
        from airflow.dag_processing.dagbag import DagBag  # 3.1+
    except ImportError:
        from airflow.models.dagbag import DagBag  # type: ignore[no-redef]  # 3.0

    for n, bad in enumerate(['stems=["vocal"]', "poll_interval=-5"]):
        (tmp_path / f"dag{n}.py").write_text(textwrap.dedent(f"""
            import datetime
            from airflow.sdk import DAG
            from airflow_provider_music.operators.audioshake import AudioShakeStemSeparationOperator
            from airflow_provider_music.operators.flowmusic import FlowMusicGenerateOperator

            with DAG("issue_{n}", schedule=None, start_date=datetime.datetime(2024, 1, 1)):
                songs = FlowMusicGenerateOperator.partial(task_id="generate").expand(prompt=["a", "b", "c"])
                AudioShakeStemSeparationOperator.partial(task_id="stems", destination="/tmp/x", {bad}).expand(
                    source=songs.output)
            """))
    bag = DagBag(dag_folder=str(tmp_path))
    errors = {Path(k).name: v for k, v in bag.import_errors.items()}
    assert "stems must be AudioShake models" in errors["dag0.py"] and "'vocal'" in errors["dag0.py"]
    assert "poll_interval must be > 0, got -5" in errors["dag1.py"]
    assert not bag.dag_ids


def test_missing_required_argument_fails_at_parse_time():
    from airflow_provider_music.operators.audioshake import AudioShakeStemSeparationOperator

    with dag() as d, pytest.raises(TypeError, match="missing keyword argument 'destination'") as info:
        AudioShakeStemSeparationOperator.partial(task_id="stems").expand(source=["/tmp/a.wav"])
    assert "task 'stems' .expand() arguments" in notes(info.value) and d.task_dict == {}


def test_expand_kwargs_literal_dicts_are_checked():
    from airflow.sdk import task

    from airflow_provider_music.operators.flowmusic import FlowMusicGenerateOperator

    @task
    def later() -> list[dict[str, Any]]:
        return [{"prompt": "x", "poll_interval": -1}]  # known only when run: not refused here

    with dag() as d:
        FlowMusicGenerateOperator.partial(task_id="a").expand_kwargs([{"prompt": "x"}, {"prompt": later()}])
        FlowMusicGenerateOperator.partial(task_id="b").expand_kwargs(later())
        with pytest.raises(InvalidInputError, match="^poll_interval must be > 0") as info:
            FlowMusicGenerateOperator.partial(task_id="c").expand_kwargs([{"prompt": "x"}, {"prompt": "y", "poll_interval": 0}])
    assert ".expand_kwargs() item 1" in notes(info.value)
    assert {"a", "b"} <= set(d.task_dict) and "c" not in d.task_dict


def test_templated_and_xcom_values_in_partial_wait_for_rendering():
    from airflow.sdk import task

    from airflow_provider_music.operators.audioshake import AudioShakeStemSeparationOperator

    @task
    def stems() -> list[str]:
        return ["vocal"]

    with dag() as d:
        AudioShakeStemSeparationOperator.partial(
            task_id="s", destination="/tmp/x", stems="{{ params.stems }}", poll_interval="{{ params.p }}"
        ).expand(source=["/tmp/a.wav"])
        AudioShakeStemSeparationOperator.partial(task_id="x", destination="/tmp/x", stems=stems()).expand(
            source=["/tmp/a.wav"])
    assert {"s", "x"} <= set(d.task_dict)


def test_task_groups_dag_default_args_and_airflow_own_checks_are_kept():
    from airflow.sdk import TaskGroup

    from airflow_provider_music.operators.riffusion import RiffusionComposeOperator

    with dag(default_args={"riffusion_conn_id": "from_dag"}) as d, TaskGroup("songs"):
        RiffusionComposeOperator.partial(task_id="compose").expand(prompt=["a", "b"])
        with pytest.raises(InvalidInputError, match="^mode must be") as info:
            RiffusionComposeOperator.partial(task_id="bad", mode="bogus")
        with pytest.raises(TypeError, match="unexpected keyword argument 'promt'"):  # Airflow's own check
            RiffusionComposeOperator.partial(task_id="typo", promt="a")
        plain = RiffusionComposeOperator(task_id="plain", prompt="a")
    assert "task_id='songs.bad'" in notes(info.value)
    assert sorted(d.task_dict) == ["songs.compose", "songs.plain"]
    with pytest.raises(TypeError, match="partial can only be called on Operator classes"):
        plain.partial(task_id="again")


def test_a_probe_joins_no_dag_and_sets_no_dependency():
    from airflow.sdk import task

    from airflow_provider_music.operators.riffusion import RiffusionDownloadOperator

    @task
    def ids() -> list[str]:
        return ["s1"]

    with dag() as d:
        upstream = ids()
        RiffusionDownloadOperator.partial(task_id="download", destination="/tmp/x").expand(song_ids=upstream)
    assert set(d.task_dict) == {"ids", "download"}
    assert d.task_dict["ids"].downstream_task_ids == {"download"}


# ---- run time: values only an upstream task knows -------------------------------------------------------
def runtime_dag_source(root: Path) -> str:
    lines = ["import datetime", "from airflow.sdk import DAG, task", ""]
    body = []
    for n, (name, cls) in enumerate(OPERATORS.items()):
        case = cases(root)[name]
        argument, value = case.runtime()
        lines.append(f"from {cls.__module__} import {name}")
        body += [
            "    @task",
            f"    def bad_{n}():",
            f"        return [{value!r}]",
            f"    {name}.partial(task_id={name.lower()!r}, **{without(case.good, argument)!r}).expand(",
            f"        {argument}=bad_{n}())",
        ]
    head = 'with DAG("mapped_runtime_checks", schedule=None, start_date=datetime.datetime(2024, 1, 1)):'
    return "\n".join([*lines, "", head, *body, ""])


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_bad_values_from_upstream_fail_each_mapped_task_before_any_request(music_emulator_server, tmp_path):
    from airflow_provider_music.testing.audio import sine_wav
    from airflow_provider_music.testing.dagtest import AirflowHome

    root = tmp_path / "files"
    (root / "catalog").mkdir(parents=True)
    (root / "song.wav").write_bytes(sine_wav(0.2, sample_rate=8000))
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "mapped_runtime_checks.py").write_text(runtime_dag_source(root))
    emulator = music_emulator_server
    emulator.reset()
    home = AirflowHome(tmp_path / "home", dags_folder=dags)
    result = home.dags_test("mapped_runtime_checks", env=emulator.env())
    output = result.output + "".join(p.read_text(errors="replace") for p in (home.path / "logs").rglob("*.log"))
    assert emulator.state.request_counts == {}, "a request reached the emulator"
    for n, name in enumerate(OPERATORS):
        argument = cases(root)[name].runtime()[0]
        assert result.states.get(f"bad_{n}") == "success", result.output[-3000:]
        assert result.states.get(f"{name.lower()}[0]") == "failed", f"{name}: {result.states}\n{result.output[-3000:]}"
        assert re.search(rf"InvalidInputError: {argument}\b", output), f"{name}: no error naming {argument}"


def test_a_check_tying_two_arguments_waits_for_the_mapped_one():
    """fail_on_ai=True needs ai_detection=True: given by .expand() (literal or upstream), that is not an error
    of the .partial() arguments; the literal False is refused, like a plain operator would be."""
    from airflow.sdk import task

    from airflow_provider_music.operators.acrcloud_scan import AcrCloudScanFileOperator

    with dag() as d:
        @task
        def flags() -> list[bool]:
            return [True]

        AcrCloudScanFileOperator.partial(task_id="a", source="/tmp/x.wav", fail_on_ai=True, buckets=["b"]).expand(
            ai_detection=flags())
        AcrCloudScanFileOperator.partial(task_id="b", source="/tmp/x.wav", fail_on_ai=True, buckets=["b"]).expand(
            ai_detection=[True])
        with pytest.raises(InvalidInputError, match="fail_on_ai=True needs ai_detection=True"):
            AcrCloudScanFileOperator.partial(task_id="c", source="/tmp/x.wav", fail_on_ai=True, buckets=["b"]).expand(
                ai_detection=[False])
        with pytest.raises(InvalidInputError, match="fail_on_ai=True needs ai_detection=True"):
            AcrCloudScanFileOperator.partial(task_id="e", fail_on_ai=True, buckets=["b"]).expand(source=["/tmp/x.wav"])
    assert {"a", "b"} <= set(d.task_dict) and not {"c", "e"} & set(d.task_dict)


def test_sensors_take_poke_interval_and_timeout_from_default_args():
    from airflow_provider_music.sensors.flowmusic import FlowMusicJobSensor

    with dag(default_args={"poke_interval": 7, "timeout": 99}):
        sensor = FlowMusicJobSensor(task_id="s", jobid="job:1")
        explicit = FlowMusicJobSensor(task_id="e", jobid="job:1", poke_interval=3)
    assert (sensor.poke_interval, sensor.timeout, explicit.poke_interval) == (7, 99, 3)
    assert FlowMusicJobSensor(task_id="d", jobid="job:1").poke_interval == 30
