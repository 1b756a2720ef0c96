"""Airflow's own secrets masker, wherever the installed Airflow keeps it (tests of what it hides)."""

from __future__ import annotations

from typing import Any


def airflow_secrets_masker() -> Any:
    """The secrets-masker module: ``airflow.sdk._shared`` (Airflow 3.1+) or ``airflow.sdk.execution_time`` (3.0)."""
    try:
        from airflow.sdk._shared import secrets_masker
    except ImportError:
        from airflow.sdk.execution_time import secrets_masker  # type: ignore[no-redef]
    return secrets_masker
