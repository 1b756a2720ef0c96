"""The Riffusion block of get_provider_info: schema-valid, importable, light module tops."""

from __future__ import annotations

import importlib
import importlib.resources
import json
import subprocess
import sys

from airflow_provider_music.get_provider_info import _RIFFUSION, get_provider_info


def test_schema_valid_and_importable():
    import jsonschema

    schema = json.loads((importlib.resources.files("airflow") / "provider_info.schema.json").read_text())
    jsonschema.validate(get_provider_info(), schema)
    for key in ("hooks", "operators", "sensors", "triggers"):
        for entry in _RIFFUSION[key]:
            for module in entry["python-modules"]:
                importlib.import_module(module)
    conn = _RIFFUSION["connection-types"][0]
    module, _, name = conn["hook-class-name"].rpartition(".")
    hook_cls = getattr(importlib.import_module(module), name)
    assert hook_cls.conn_type == conn["connection-type"] == "riffusion"
    assert set(conn["conn-fields"]) == {"user_id"}  # plus the common fields added by get_provider_info
    assert "user_id" in hook_cls.get_ui_field_behaviour()["placeholders"]
    for link in _RIFFUSION["extra-links"]:
        module, _, name = link.rpartition(".")
        assert getattr(importlib.import_module(module), name)().name


def test_module_tops_are_light():
    code = (
        "import sys; import airflow.sdk; from airflow.providers.common.compat.sdk import BaseOperator; "
        "pre = set(sys.modules); "  # what Airflow itself loads (3.0's airflow.sdk imports fastapi) is the baseline
        "import airflow_provider_music.operators.riffusion, airflow_provider_music.sensors.riffusion, "
        "airflow_provider_music.triggers.riffusion; "
        "print([m for m in ('aiohttp', 'fastapi', 'requests_toolbelt') if m in sys.modules and m not in pre])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"
