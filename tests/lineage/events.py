"""Reading the OpenLineage events of a real run: file transport, schema validation, the dataset graph.

The OpenLineage 2-0-2 schema and the standard facet schemas the Airflow provider emits are shipped in
``tests/lineage/schema/`` (copied from the OpenLineage repository's ``spec/``), with this provider's own
``music`` facet schema from ``docs/lineage-music-run-facet.json``: validation needs no network.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

SCHEMA_DIR = Path(__file__).resolve().parent / "schema"
MUSIC_FACET_SCHEMA = Path(__file__).resolve().parents[2] / "docs" / "lineage-music-run-facet.json"

Node = tuple[str, str]  # (namespace, name)


def lineage_env(events_file: Path) -> dict[str, str]:
    """Environment turning the OpenLineage provider on with its file transport (one JSON event per line)."""
    return {
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps({"type": "file", "log_file_path": str(events_file), "append": True}),
        "AIRFLOW__OPENLINEAGE__NAMESPACE": "music-example",
        "AIRFLOW__OPENLINEAGE__DISABLED": "False",
    }


def load_events(events_file: Path) -> list[dict[str, Any]]:
    """Every event the file transport wrote."""
    return [json.loads(line) for line in events_file.read_text().splitlines() if line.strip()]


def _registry() -> Any:
    from referencing import Registry, Resource

    resources = []
    for path in [*sorted(SCHEMA_DIR.glob("*.json")), MUSIC_FACET_SCHEMA]:
        schema = json.loads(path.read_text())
        resources.append((schema["$id"], Resource.from_contents(schema)))
    return Registry().with_resources(resources)


def schema_problems(events: Iterable[dict[str, Any]]) -> list[str]:
    """Each event against OpenLineage.json, and each facet against the schema its ``_schemaURL`` names."""
    from jsonschema import Draft202012Validator

    registry = _registry()
    core = json.loads((SCHEMA_DIR / "OpenLineage.json").read_text())
    run_event = {"$ref": core["$id"] + "#/$defs/RunEvent"}  # the root is oneOf(run, job, dataset event): be precise
    problems: list[str] = []
    for n, event in enumerate(events):
        where = f"event {n} ({event.get('eventType')} {event.get('job', {}).get('name')})"
        problems += [f"{where}: {e.message}" for e in Draft202012Validator(run_event, registry=registry).iter_errors(event)]
        for facet in _facets(event):
            url = str(facet.get("_schemaURL", ""))
            base, _, pointer = url.partition("#")
            if base not in registry:
                problems.append(f"{where}: facet schema {url} is not shipped in tests/lineage/schema")
                continue
            schema = {"$ref": url}
            errors = Draft202012Validator(schema, registry=registry).iter_errors(facet)
            problems += [f"{where}: facet {pointer}: {e.message}" for e in errors]
    return problems


def _facets(event: dict[str, Any]) -> list[dict[str, Any]]:
    out = list(event.get("run", {}).get("facets", {}).values()) + list(event.get("job", {}).get("facets", {}).values())
    for dataset in [*event.get("inputs", []), *event.get("outputs", [])]:
        out += list(dataset.get("facets", {}).values())
    return [f for f in out if isinstance(f, dict)]


def complete_events(events: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The COMPLETE events of task runs (one per task instance)."""
    return [e for e in events if e.get("eventType") == "COMPLETE" and "." in e["job"]["name"]]


def edges(events: Iterable[dict[str, Any]]) -> set[tuple[Node, str, Node]]:
    """``(input dataset, task, output dataset)`` of the COMPLETE events of this provider's operators (those with
    the ``music`` run facet): the lineage graph. Other tasks are left out: under ``airflow dags test`` every task
    runs in one process, so Airflow's hook-level lineage of a ``@task`` collects the files of earlier tasks."""
    out = set()
    for event in complete_events(events):
        if "music" not in event["run"].get("facets", {}):
            continue
        task = event["job"]["name"].split(".", 1)[1]
        for i in event.get("inputs", []):
            for o in event.get("outputs", []):
                out.add(((i["namespace"], i["name"]), task, (o["namespace"], o["name"])))
    return out


def paths_from(graph: set[tuple[Node, str, Node]], start: Node) -> list[list[tuple[str, Node]]]:
    """Every path (``[(task, dataset), ...]``) from ``start`` to a dataset no task reads."""
    following: dict[Node, list[tuple[str, Node]]] = {}
    for source, task, target in graph:
        following.setdefault(source, []).append((task, target))
    paths: list[list[tuple[str, Node]]] = []

    def walk(node: Node, path: list[tuple[str, Node]]) -> None:
        if node not in following:
            paths.append(path)
        for task, target in sorted(following.get(node, [])):
            if all(target != seen for _, seen in path):
                walk(target, [*path, (task, target)])

    walk(start, [])
    return paths


def describe(path: list[tuple[str, Node]], start: Node) -> str:
    """``ns:name --task--> ns:name ...`` (names shortened to their last 40 characters)."""
    text = f"{start[0]}:{start[1][-40:]}"
    for task, (ns, name) in path:
        text += f"\n  --{task}--> {ns}:{name[-60:]}"
    return text
