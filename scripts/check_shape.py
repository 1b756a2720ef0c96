"""Check the package's shape: modules of at most 600 lines, functions of at most 60 lines, and no hook
method looked up by a string between layers (``getattr(hook, ...)`` / ``status_method``).

Usage: ``python scripts/check_shape.py [files...]`` (default: every module of ``airflow_provider_music``).
Exits 1 and lists every offender. Run by ``make lint``.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 60
ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "airflow_provider_music"
STRING_LINK_NAMES = ("status_method", "cancel_method")


def check_file(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    rel = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    problems: list[str] = []
    lines = text.count("\n") + (0 if text.endswith("\n") else 1)
    if lines > MAX_MODULE_LINES:
        problems.append(f"{rel}: {lines} lines (limit {MAX_MODULE_LINES})")
    tree = ast.parse(text, filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            start = min([d.lineno for d in node.decorator_list] + [node.lineno])
            length = (node.end_lineno or node.lineno) - start + 1
            if length > MAX_FUNCTION_LINES:
                problems.append(f"{rel}:{node.lineno}: function {node.name} has {length} lines (limit {MAX_FUNCTION_LINES})")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr":
            first = node.args[0] if node.args else None
            if isinstance(first, ast.Name) and "hook" in first.id.lower():
                problems.append(f"{rel}:{node.lineno}: method looked up by a string on a hook (getattr)")
        if isinstance(node, ast.Name | ast.Attribute):
            name = node.id if isinstance(node, ast.Name) else node.attr
            if name in STRING_LINK_NAMES:
                problems.append(f"{rel}:{node.lineno}: string link {name!r} between layers")
    return problems


def main(argv: list[str]) -> int:
    files = [Path(a).resolve() for a in argv] if argv else sorted(PACKAGE.rglob("*.py"))
    problems = [p for f in files if f.suffix == ".py" for p in check_file(f)]
    for problem in problems:
        print(problem)
    if problems:
        print(f"check_shape: {len(problems)} problem(s)")
        return 1
    print(f"check_shape: {len(files)} modules within {MAX_MODULE_LINES} lines, functions within {MAX_FUNCTION_LINES}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
