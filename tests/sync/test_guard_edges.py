"""Deletion limits at their edges (issue 12 §2): 0 means "delete nothing", 1 / None mean "no limit" only
when asked for explicitly; numbers from templates are read the same; NaN/inf never pass."""

from __future__ import annotations

import math

import pytest

from airflow_provider_music.core import InvalidInputError
from airflow_provider_music.sync.guard import DeletionGuard, DeletionGuardError
from airflow_provider_music.sync.plan import check_count, check_ratio


def check(guard, missing, in_bucket=10, tracks=5):
    guard.check(missing=missing, missing_files=missing, in_bucket=in_bucket, local_tracks=tracks, where="b")


@pytest.mark.parametrize(("guard", "missing", "allowed"), [
    (DeletionGuard(0.0), 1, False), (DeletionGuard(0.0), 0, True),
    (DeletionGuard(1.0, 0), 1, False), (DeletionGuard(1.0, 0), 0, True),
    (DeletionGuard(0.5), 5, True), (DeletionGuard(0.5), 6, False),
    (DeletionGuard(1.0), 10, True), (DeletionGuard(1.0, 9), 10, False),
])
def test_limits_at_the_edges(guard, missing, allowed):
    if allowed:
        check(guard, missing)
    else:
        with pytest.raises(DeletionGuardError, match="Nothing was uploaded or deleted"):
            check(guard, missing)


def test_an_empty_catalog_blocks_even_ratio_one():
    with pytest.raises(DeletionGuardError, match="holds no track"):
        check(DeletionGuard(1.0), 10, tracks=0)


@pytest.mark.parametrize(("value", "ratio"), [("0.5", 0.5), (" 0 ", 0.0), ("1", 1.0), (0, 0.0), ("1e-400", 0.0)])
def test_templated_ratios(value, ratio):
    assert check_ratio(value, "max_delete_ratio") == ratio


@pytest.mark.parametrize("value", [math.nan, "nan", math.inf, "inf", "-0.1", 1.0000001, True, None, "", "50%"])
def test_bad_ratios(value):
    with pytest.raises(InvalidInputError, match="max_delete_ratio"):
        check_ratio(value, "max_delete_ratio")


@pytest.mark.parametrize("value", [math.nan, math.inf, -1, "1.5", 2.5, True, "x"])
def test_bad_counts(value):
    with pytest.raises(InvalidInputError, match="max_delete"):
        check_count(value, "max_delete")
