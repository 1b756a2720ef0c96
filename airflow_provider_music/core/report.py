"""What one task did, for the tools data teams watch: lineage datasets, vendor facts and cost.

Every operator fills one :class:`TaskReport` (``self.task_report``) while it works. Three readers turn it into
what each audience expects, so no operator builds those shapes itself:

* OpenLineage (``MusicOperator.get_openlineage_facets_on_complete``): inputs/outputs as datasets, facts and
  cost as a run facet;
* asset events: the ``extra`` of every ``outlets`` asset (ids, paths, durations, cost);
* the summary log line and the XCom result: the cost.

Pure data, no Airflow or OpenLineage imports (the OpenLineage provider stays optional).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class DatasetRef:
    """One OpenLineage dataset: ``namespace`` (``file://host``, ``s3://bucket``, ``flowmusic://account``, ...)
    and ``name`` (a path or a vendor object id), following the OpenLineage naming conventions."""

    namespace: str
    name: str


@dataclass(frozen=True)
class Cost:
    """What a task's work cost in the unit the service reports; ``amount=None`` means the service reports
    nothing ("unknown", never a made-up 0)."""

    amount: float | None
    unit: str
    #: where the number comes from (``"accounts/usage"``, ``"task cost"``, ...) or why it is unknown
    source: str = ""

    def as_dict(self) -> dict[str, Any]:
        """JSON-primitive form for XCom, asset extras and run facets."""
        return {"amount": "unknown" if self.amount is None else self.amount, "unit": self.unit, "source": self.source}


@dataclass
class TaskReport:
    """What the task read and wrote (datasets), what identifies its work at the vendor (``facts``: job/task
    ids, model, account - never a secret - verdicts) and what it cost."""

    inputs: list[DatasetRef] = field(default_factory=list)
    outputs: list[DatasetRef] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    cost: Cost | None = None
