"""Every operator and sensor of every API fills ``task_report`` (lineage datasets, facts): found by itself, so a
new API's operators (Mureka was added without it once) fail here instead of reporting empty lineage."""

from __future__ import annotations

import importlib
import inspect

from airflow_provider_music.get_provider_info import get_provider_info
from airflow_provider_music.operators.base import MusicJobOperator, MusicOperator
from airflow_provider_music.sensors.base import MusicJobSensor

BASES = (MusicOperator, MusicJobOperator, MusicJobSensor)


def concrete_classes() -> list[type]:
    info = get_provider_info()
    found: dict[str, type] = {}
    for role in ("operators", "sensors"):
        for entry in info[role]:
            for name in entry["python-modules"]:
                module = importlib.import_module(name)
                for cls_name, cls in vars(module).items():
                    if (inspect.isclass(cls) and issubclass(cls, MusicOperator) and cls.__module__ == name
                            and not cls_name.startswith("_") and not cls_name.endswith("BaseOperator")):
                        found[f"{name}.{cls_name}"] = cls
    return [found[k] for k in sorted(found)]


def fills_task_report(cls: type) -> bool:
    for klass in cls.__mro__:
        if klass in BASES or not klass.__module__.startswith("airflow_provider_music."):
            continue
        if "report" in vars(klass) or "task_report" in inspect.getsource(klass):
            return True
    return False


def test_every_operator_and_sensor_fills_its_task_report():
    classes = concrete_classes()
    assert len(classes) >= 30  # five APIs: the lookup found them
    missing = [f"{c.__module__}.{c.__name__}" for c in classes if not fills_task_report(c)]
    assert missing == [], f"operators that report no lineage/facts (override report() or fill task_report): {missing}"
