#!/usr/bin/env python3
"""`make test-matrix`: the built wheel on every supported Airflow minor, lowest and highest Python.

For each cell (Airflow minor x Python) a virtualenv under ``.matrix/`` gets the pinned set
``constraints/airflow-<minor>.txt`` and the wheel from ``dist/`` (never an editable install). The tests
run from a copy of the tree *without* the package folder, so ``import airflow_provider_music`` can only
find the installed wheel. The whole suite runs in ``make test`` on the main set (Airflow 3.3, Python 3.11,
the same pins, editable); every cell here, the main one included, runs tests/core, every slice's operator
and trigger tests, the connection-form checks and one example DAG end to end; the lowest-Python cell of each
minor also runs the AssetWatcher check in a real scheduler + triggerer (tests/deployment/test_catalog_watch.py). Two cells run at a time (2 cores). A venv is reused while its pinned set, pyproject.toml and
Python are unchanged (CI starts from a clean clone, so there every install is cold).

Exit status: non-zero if any cell failed, including a pytest run that collected no test (exit 5).
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / ".matrix"
PYENV = Path(os.environ.get("PYENV_ROOT", "/root/.pyenv")) / "versions"

#: Airflow minor -> (Pythons to test: lowest and highest that minor supports). 3.0 stops at 3.12.
CELLS: dict[str, tuple[str, ...]] = {
    "3.3": ("3.11", "3.13"),
    "3.2": ("3.11", "3.13"),
    "3.1": ("3.11", "3.13"),
    "3.0": ("3.11", "3.12"),
}
MAIN = ("3.3", "3.11")  # constraints/airflow-3.3.txt on Python 3.11 is what `make test` uses
#: `--ui`: the browser check of the connection forms, newest and oldest supported minor
UI_CELLS = (("3.3", "3.11"), ("3.0", "3.11"))
SCREENSHOTS = ROOT / ".ui-screenshots"
EXTRAS = "dev,testing,fingerprint,ui"
SMOKE_DAG = "example_music_pipeline"
#: the event-driven scheduling check (AssetWatcher + CatalogChangeTrigger in a real scheduler + triggerer),
#: once per minor in its lowest-Python cell (~90 s); `make test-deployment` runs it on the main set
WATCH_TEST = "tests/deployment/test_catalog_watch.py"
_SUMMARY = re.compile(r"^(?:=+ )?((?:\d+ \w+, )*\d+ (?:passed|failed|errors?|skipped|deselected)\b.*?) in [\d.]+s", re.M)


@dataclass
class Cell:
    minor: str
    python: str
    log: list[str] = field(default_factory=list)
    result: str = "not run"
    ok: bool = False
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"airflow-{self.minor}-py{self.python}"

    @property
    def venv(self) -> Path:
        return WORK / f"venv-{self.name}"

    @property
    def main(self) -> bool:
        return (self.minor, self.python) == MAIN


def find_python(version: str) -> str:
    """The pyenv interpreter for ``3.X`` (``MATRIX_PYTHON_3_X`` overrides)."""
    override = os.environ.get("MATRIX_PYTHON_" + version.replace(".", "_"))
    if override:
        return override
    found = sorted(glob.glob(str(PYENV / f"{version}.*" / "bin" / f"python{version}")))
    if not found:
        found = [p for p in [shutil.which(f"python{version}")] if p]
    if not found:
        raise SystemExit(f"test-matrix: no Python {version} (looked in {PYENV} and PATH)")
    return found[-1]


def run(cell: Cell, cmd: list[str], *, cwd: Path = ROOT, env: dict[str, str] | None = None,
        timeout: float = 1800) -> int:
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=timeout, check=False)
    cell.log.append(f"$ {' '.join(cmd)}  [{time.monotonic() - started:.0f}s, exit {proc.returncode}]\n{proc.stdout}")
    return proc.returncode


def constraints_for(minor: str) -> Path:
    return ROOT / "constraints" / f"airflow-{minor}.txt"


def install(cell: Cell, wheel: Path) -> bool:
    """Create (or reuse) the cell's venv with its pinned set and the built wheel."""
    python = find_python(cell.python)
    key = hashlib.sha256()
    for part in (constraints_for(cell.minor).read_bytes(), (ROOT / "pyproject.toml").read_bytes(),
                 python.encode(), EXTRAS.encode()):
        key.update(part)
    stamp = cell.venv / ".matrix-stamp"
    pip = [str(cell.venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    if stamp.exists() and stamp.read_text() == key.hexdigest():
        cell.log.append(f"reusing {cell.venv}")
        return run(cell, [*pip, "--no-deps", "--force-reinstall", str(wheel)]) == 0
    shutil.rmtree(cell.venv, ignore_errors=True)
    if run(cell, [python, "-m", "venv", str(cell.venv)]) != 0:
        return False
    if run(cell, [*pip, "-c", str(constraints_for(cell.minor)), f"{wheel}[{EXTRAS}]"]) != 0:
        return False
    if run(cell, [str(cell.venv / "bin" / "python"), "-m", "pip", "check"]) != 0:
        return False
    stamp.write_text(key.hexdigest())
    return True


def copy_tree(cell: Cell) -> Path:
    """The repository's files without the package folder (tests must import the installed wheel)."""
    dest = WORK / f"run-{cell.name}"
    shutil.rmtree(dest, ignore_errors=True)
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True,
                            stdout=subprocess.PIPE).stdout.decode().split("\0")
    for rel in listed:
        if not rel or rel.startswith(("airflow_provider_music/", ".matrix/", "dist/")):
            continue
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    return dest


def test_selection(tree: Path) -> list[str]:
    # The whole suite runs in `make test` on the main set (the same pins); every cell here runs the subset.
    picked = ["tests/core", "tests/lineage", "tests/ui/test_connection_form.py",
              # every example DAG imports on every supported version (no run: one runs end to end below)
              "tests/example_dags/test_example_dags.py::test_example_dags_import_without_db"]
    for pattern in ("tests/*/test_operator*.py", "tests/*/test_trigger*.py"):
        picked += sorted(str(p.relative_to(tree)) for p in tree.glob(pattern))
    return list(dict.fromkeys(picked))


def run_tests(cell: Cell, tree: Path) -> bool:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW__", "AIRFLOW_CONN_", "VIRTUAL_ENV"))}
    env.update({"AIRFLOW_HOME": str(tree / ".airflow-home"), "PYTHONDONTWRITEBYTECODE": "1"})
    py = str(cell.venv / "bin" / "python")
    where = subprocess.run([py, "-c", "import airflow_provider_music as m; print(m.__file__)"], cwd=tree, env=env,
                           stdout=subprocess.PIPE, text=True, check=False).stdout.strip()
    if str(cell.venv) not in where:
        cell.log.append(f"airflow_provider_music imported from {where!r}, not from the venv's wheel")
        return False
    started = time.monotonic()
    rc = run(cell, [py, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=",
                    "--ignore=tests/deployment", "--ignore=tests/ui/browser", *test_selection(tree)],
             cwd=tree, env=env, timeout=1500)
    found = _SUMMARY.findall(cell.log[-1])
    cell.result = found[-1] if found else f"pytest exit {rc}"
    cell.seconds["tests"] = time.monotonic() - started
    started = time.monotonic()  # one example DAG end to end in every cell
    dag_rc = run(cell, [py, "-m", "airflow_provider_music.testing.dagtest", SMOKE_DAG,
                        "--dags-folder", str(tree / "example_dags")], cwd=tree, env=env, timeout=900)
    cell.seconds["dag"] = time.monotonic() - started
    cell.result += f"; {SMOKE_DAG} {'ok' if dag_rc == 0 else 'FAILED'}"
    watch_rc = run_watch_test(cell, tree, env) if cell.python == CELLS[cell.minor][0] else 0
    return rc == 0 and dag_rc == 0 and watch_rc == 0


def run_watch_test(cell: Cell, tree: Path, env: dict[str, str]) -> int:
    """The AssetWatcher check in a real deployment of this cell's Airflow (its own AIRFLOW_HOME, loopback)."""
    started = time.monotonic()
    rc = run(cell, [str(cell.venv / "bin" / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=",
                    WATCH_TEST], cwd=tree, env={**env, "AIRFLOW_HOME": str(tree / ".airflow-home-watch")}, timeout=600)
    cell.seconds["watch"] = time.monotonic() - started
    cell.result += f"; asset watcher {'ok' if rc == 0 else 'FAILED'}"
    return rc


def run_ui_tests(cell: Cell, tree: Path) -> bool:
    """tests/ui/browser: Chromium + Playwright against this cell's `airflow api-server`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW__", "AIRFLOW_CONN_", "VIRTUAL_ENV"))}
    env.update({"AIRFLOW_HOME": str(tree / ".airflow-home"), "MUSIC_UI_SCREENSHOTS": str(SCREENSHOTS)})
    started = time.monotonic()
    rc = run(cell, [str(cell.venv / "bin" / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o",
                    "addopts=", "tests/ui/browser"], cwd=tree, env=env, timeout=1500)
    found = _SUMMARY.findall(cell.log[-1])
    cell.result = "browser: " + (found[-1] if found else f"pytest exit {rc}")
    cell.seconds["ui"] = time.monotonic() - started
    return rc == 0


def run_cell(cell: Cell, wheel: Path, ui: bool = False) -> Cell:
    started = time.monotonic()
    try:
        if not install(cell, wheel):
            cell.result = "install failed"
        else:
            cell.seconds["install"] = time.monotonic() - started
            tree = copy_tree(cell)
            cell.ok = run_ui_tests(cell, tree) if ui else run_tests(cell, tree)
    except Exception as exc:  # a crashed cell is a failed cell, reported with the rest
        cell.log.append(f"{type(exc).__name__}: {exc}")
        cell.result = f"error: {exc}"
    cell.seconds["total"] = time.monotonic() - started
    (WORK / "logs").mkdir(parents=True, exist_ok=True)
    (WORK / "logs" / f"{cell.name}{'-ui' if ui else ''}.log").write_text("\n".join(cell.log))
    times = ", ".join(f"{k} {v:.0f}s" for k, v in cell.seconds.items())
    print(f"[{'PASS' if cell.ok else 'FAIL'}] {cell.name}: {cell.result} ({times})", flush=True)
    return cell


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", default=os.environ.get("MATRIX_CELLS", ""),
                        help="comma-separated subset, e.g. 3.0-py3.11,3.3-py3.13 (default: all)")
    parser.add_argument("--jobs", type=int, default=int(os.environ.get("MATRIX_JOBS", "2")))
    parser.add_argument("--wheel", default="", help="the wheel to test (default: the one in dist/)")
    parser.add_argument("--ui", action="store_true", help="run the browser check (tests/ui/browser) instead")
    args = parser.parse_args()
    wheels = [Path(args.wheel)] if args.wheel else sorted((ROOT / "dist").glob("airflow_provider_music-*.whl"))
    if len(wheels) != 1:
        raise SystemExit(f"test-matrix: expected one wheel in dist/, found {wheels} (run `make dist`)")
    if args.ui:
        cells = [Cell(minor, py) for minor, py in UI_CELLS]
    else:
        cells = [Cell(minor, py) for minor, pys in CELLS.items() for py in pys]
    if args.cells:
        wanted = {c.strip() for c in args.cells.split(",") if c.strip()}
        cells = [c for c in cells if f"{c.minor}-py{c.python}" in wanted]
    cells.sort(key=lambda c: not c.main)  # the longest (full suite) first
    WORK.mkdir(exist_ok=True)
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        done = list(pool.map(lambda c: run_cell(c, wheels[0].resolve(), args.ui), cells))
    lines = ["| Airflow | Python | result |", "|---|---|---|"]
    for cell in sorted(done, key=lambda c: (c.minor, c.python)):
        pins = constraints_for(cell.minor).read_text()
        version = re.search(r"^apache-airflow==(\S+)$", pins, re.M)
        lines.append(f"| {version.group(1) if version else cell.minor} | {cell.python} | "
                     f"{'ok' if cell.ok else 'FAILED'}: {cell.result} |")
    table = "\n".join(lines)
    (WORK / ("summary-ui.md" if args.ui else "summary.md")).write_text(table + "\n")
    failed = [c.name for c in done if not c.ok]
    what = "test-ui" if args.ui else "test-matrix"
    print(f"\n{table}\n\n{what}: {len(done) - len(failed)} cells ok, {len(failed)} failed "
          f"in {time.monotonic() - started:.0f}s; logs in .matrix/logs/")
    for name in failed:
        log = WORK / "logs" / f"{name}{'-ui' if args.ui else ''}.log"
        print(f"--- tail of {log.relative_to(ROOT)} ---\n" + log.read_text()[-4000:])
    return 1 if failed or not done else 0


if __name__ == "__main__":
    sys.exit(main())
