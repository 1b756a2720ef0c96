"""The ACRCloud block of get_provider_info(): valid, importable, and DAG-parse cheap."""

from __future__ import annotations

import importlib
import importlib.resources
import json
import subprocess
import sys

import jsonschema

from airflow_provider_music.get_provider_info import _ACRCLOUD, get_provider_info


def test_block_is_valid_and_importable():
    schema = json.loads((importlib.resources.files("airflow") / "provider_info.schema.json").read_text())
    jsonschema.validate(get_provider_info(), schema)
    for key in ("hooks", "operators", "sensors", "triggers"):
        for module in _ACRCLOUD[key][0]["python-modules"]:
            importlib.import_module(module)
    conn = _ACRCLOUD["connection-types"][0]
    module, _, name = conn["hook-class-name"].rpartition(".")
    hook = getattr(importlib.import_module(module), name)
    assert hook.conn_type == conn["connection-type"] == "acrcloud"
    assert hook.default_conn_name == "acrcloud_default"
    assert conn["conn-fields"]["access_secret"]["schema"]["format"] == "password"


def test_operator_modules_import_no_heavy_dependencies():
    code = (
        "import sys; import airflow.sdk; from airflow.providers.common.compat.sdk import BaseOperator; "
        "pre = set(sys.modules); "  # what Airflow itself loads (3.0's airflow.sdk imports fastapi) is the baseline
        "import airflow_provider_music.operators.acrcloud, airflow_provider_music.sensors.acrcloud; "
        "bad = [m for m in ('aiohttp', 'requests_toolbelt', 'fastapi', 'acrcloud', 'acrcloud_extr_tool') "
        "if m in sys.modules and m not in pre]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr[-1000:]
