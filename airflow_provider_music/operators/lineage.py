"""OpenLineage shapes of a ``TaskReport``: datasets and the ``music`` run facet (docs/lineage.md).

Imported only inside ``MusicOperator.get_openlineage_facets_on_complete`` / ``_on_failure`` (as official
providers import OpenLineage), so the OpenLineage provider stays optional: without it that import fails
and the methods return None (the OpenLineage listener is not there to call them anyway).
"""

from __future__ import annotations

from typing import Any, ClassVar

import attr
from airflow.providers.common.compat.openlineage.facet import Dataset, InputDataset, OutputDataset, RunFacet
from airflow.providers.openlineage.extractors import OperatorLineage

from airflow_provider_music.core.report import DatasetRef, TaskReport

#: Where the facet's JSON schema is published (shipped in the repository as docs/lineage-music-run-facet.json).
MUSIC_FACET_SCHEMA = (
    "https://raw.githubusercontent.com/airflow-provider-music/airflow-provider-music/main/"
    "docs/lineage-music-run-facet.json#/$defs/MusicRunFacet"
)


@attr.define
class MusicRunFacet(RunFacet):  # type: ignore[misc]
    """The run facet ``music``: what finds the work at the vendor, and what it cost.

    ``service``: ``flowmusic`` | ``riffusion`` | ``acrcloud`` | ``audioshake``; ``facts``: job/task ids, model,
    account (never a secret), the copyright/AI verdict of a scan; ``cost``: ``{amount|"unknown", unit, source}``
    or None when the service is free or not asked.
    """

    service: str = attr.field()
    facts: dict[str, Any] = attr.field(factory=dict)
    cost: dict[str, Any] | None = attr.field(default=None)
    #: ids, accounts and verdicts are not secrets: keep them readable (secret masking still applies to values)
    _additional_skip_redact: ClassVar[list[str]] = ["service"]

    @staticmethod
    def _get_schema() -> str:
        return MUSIC_FACET_SCHEMA


def _dataset(ref: DatasetRef, kind: Any) -> Any:
    return kind(namespace=ref.namespace, name=ref.name)


def to_operator_lineage(report: TaskReport, service: str) -> OperatorLineage:
    """``report`` as OpenLineage: inputs, outputs and the ``music`` run facet."""
    facet = MusicRunFacet(service=service, facts=dict(report.facts),
                          cost=report.cost.as_dict() if report.cost is not None else None)
    return OperatorLineage(
        inputs=[_dataset(r, InputDataset) for r in report.inputs],
        outputs=[_dataset(r, OutputDataset) for r in report.outputs],
        run_facets={"music": facet},
    )


__all__ = ["MUSIC_FACET_SCHEMA", "Dataset", "MusicRunFacet", "to_operator_lineage"]
