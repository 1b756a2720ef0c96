"""Every public class and function (public methods included) of hooks, operators, sensors and triggers has a
docstring: what a DAG author reads with ``help()`` and what the docs point to.

Public: a name without a leading underscore, at module level or on a public class (dunder methods aside).
Run ``python tests/core/test_docstrings.py`` to list what is missing.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "airflow_provider_music"
PACKAGES = ("hooks", "operators", "sensors", "triggers")


def missing_docstrings(path: Path) -> list[str]:
    """``module:line name`` of every public class, function and method of ``path`` without a docstring."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    where = path.relative_to(PACKAGE).as_posix()
    found: list[str] = []

    def visit(nodes: list[ast.stmt], prefix: str) -> None:
        for node in nodes:
            if not isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            if node.name.startswith("_"):
                continue
            if ast.get_docstring(node) is None:
                found.append(f"{where}:{node.lineno} {prefix}{node.name}")
            if isinstance(node, ast.ClassDef):
                visit(node.body, f"{node.name}.")

    visit(tree.body, "")
    return found


MODULES = sorted(path for package in PACKAGES for path in (PACKAGE / package).glob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda path: path.relative_to(PACKAGE).as_posix())
def test_every_public_name_has_a_docstring(path):
    assert missing_docstrings(path) == []


if __name__ == "__main__":
    for module in MODULES:
        for line in missing_docstrings(module):
            print(line)
