"""Docstring coverage of the public API of ``airflow_provider_music`` (run by ``make lint``).

Public, and counted: every module; every class and function at module level whose name has no leading
underscore; the public methods of those classes (dunder methods, ``__init__`` included, aside: the class
docstring documents the arguments, as the reference site shows them). Not counted: nested functions, property
setters, names with a leading underscore and everything inside them. Of ``testing/`` only what a DAG author
uses is public (the modules in ``PUBLIC_TESTING``: the emulator server, the ``music_emulator`` fixture, the DAG
runner, the AI-marker helper, as documented on the site's "Testing helpers" page); the emulator's per-API
handlers and stores are internals (``--all`` counts them too, for information).

Usage: ``python scripts/check_docstrings.py [--all] [--min PERCENT]``. Prints the percentage and every missing
name (``module:line name``); exits 1 below the minimum (default 90 %). ``tests/core/test_docstrings.py``
holds hooks, operators, sensors and triggers to 100 %.
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "airflow_provider_music"
MIN_PERCENT = 90.0
PUBLIC_TESTING = ("__init__.py", "server.py", "pytest_plugin.py", "dagtest.py", "acrcloud_ai.py")


def is_public_module(path: Path) -> bool:
    """A module whose own name and folders carry no leading underscore, outside the emulator's internals."""
    rel = path.relative_to(PACKAGE)
    if any(part.startswith("_") for part in rel.parts[:-1]) or (path.stem.startswith("_") and path.stem != "__init__"):
        return False
    return rel.parts[0] != "testing" or rel.name in PUBLIC_TESTING


def public_names(path: Path) -> list[tuple[str, bool]]:
    """``(module:line name, documented)`` for the module and every public class, function and method in it."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    where = path.relative_to(ROOT).as_posix()
    found = [(f"{where}:1 (module)", ast.get_docstring(tree) is not None)]

    def visit(nodes: list[ast.stmt], prefix: str) -> None:
        for node in nodes:
            if not isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) or node.name.startswith("_"):
                continue
            if any(isinstance(d, ast.Attribute) and d.attr in ("setter", "deleter") for d in node.decorator_list):
                continue
            found.append((f"{where}:{node.lineno} {prefix}{node.name}", ast.get_docstring(node) is not None))
            if isinstance(node, ast.ClassDef):
                visit(node.body, f"{node.name}.")

    visit(tree.body, "")
    return found


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--all", action="store_true", help="count the emulator's internals in testing/ too")
    parser.add_argument("--min", type=float, default=MIN_PERCENT, help="fail below this percentage")
    args = parser.parse_args(argv)
    modules = [p for p in sorted(PACKAGE.rglob("*.py")) if args.all or is_public_module(p)]
    names = [item for module in modules for item in public_names(module)]
    missing = [name for name, documented in names if not documented]
    percent = 100.0 * (len(names) - len(missing)) / len(names) if names else 100.0
    for name in missing:
        print(f"missing docstring: {name}")
    verdict = "ok" if percent >= args.min else f"FAILED (minimum {args.min:g} %)"
    print(f"check_docstrings: {percent:.1f} % of {len(names)} public names documented "
          f"({len(missing)} missing, {len(modules)} modules{', testing internals included' if args.all else ''}): {verdict}")
    return 0 if percent >= args.min else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
