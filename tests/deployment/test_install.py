"""README "Install": its marked command blocks, run as written in clean Python 3.11 virtualenvs (``make test-install``).

* ``install-test:new-venv``: a new venv (``python3.11`` from pyenv), Airflow, the wheel ``make dist`` built and the
  pinned set by path; the provider must be registered and import from the installed wheel.
* the Git line (``pip install "airflow-provider-music @ git+<URL>@<tag>"``) with this checkout's repository.
* ``install-test:existing``: a venv that already holds Airflow 3.3.2 (installed with the same pinned set, as a
  deployment would be): the block must add the provider (and aiohttp, which Airflow core lacks) and change no
  installed package (no Airflow up- or downgrade, no dependency moved).

The blocks run with ``bash -euo pipefail`` in a folder holding ``dist/`` and ``constraints/`` of this checkout,
``HOME`` in a temporary folder; pip reaches PyPI for Airflow's dependencies. About 2-3 minutes in all.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
AIRFLOW = "3.3.2"
#: What the provider may add to an Airflow installation: itself and aiohttp's stack (Airflow core has no aiohttp).
AIOHTTP = {"aiohttp", "aiohappyeyeballs", "aiosignal", "frozenlist", "multidict", "propcache", "yarl", "attrs"}

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def readme_block(name: str) -> str:
    """The bash block between ``<!-- install-test:<name> -->`` and ``<!-- /install-test -->``."""
    found = re.findall(rf"<!-- install-test:{name} -->\s*```bash\n(.*?)```\s*<!-- /install-test -->",
                       README.read_text(encoding="utf-8"), flags=re.S)
    assert len(found) == 1, f"README.md needs exactly one marked block install-test:{name}"
    return str(found[0])


def python311() -> str:
    pyenv = Path(os.environ.get("PYENV_ROOT", "/root/.pyenv")) / "versions"
    found = sorted(glob.glob(str(pyenv / "3.11.*" / "bin" / "python3.11"))) or [shutil.which("python3.11") or ""]
    if not found[-1]:
        pytest.fail("Python 3.11 is needed (pyenv install 3.11)")
    return found[-1]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """A folder with this checkout's ``dist/`` (one wheel, from ``make dist``) and ``constraints/``."""
    wheels = sorted((ROOT / "dist").glob("airflow_provider_music-*.whl"))
    if len(wheels) != 1:
        pytest.fail(f"expected one wheel in dist/, found {[w.name for w in wheels]}: run `make test-install` (it runs make dist)")
    work = tmp_path_factory.mktemp("install")
    (work / "dist").symlink_to(ROOT / "dist")
    (work / "constraints").symlink_to(ROOT / "constraints")
    return work


def shell_env(home: Path, venv: Path | None = None) -> dict[str, str]:
    """A clean environment: no virtualenv, no PYTHONPATH, no Airflow settings of this checkout's tests."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AIRFLOW", "VIRTUAL_ENV", "PYTHON", "CONDA")) and k != "PATH"}
    path = [str(Path(python311()).parent), "/usr/local/bin", "/usr/bin", "/bin"]
    if venv is not None:
        path.insert(0, str(venv / "bin"))
        env["VIRTUAL_ENV"] = str(venv)
    home.mkdir(parents=True, exist_ok=True)
    env.update(PATH=os.pathsep.join(path), HOME=str(home), AIRFLOW_HOME=str(home / "airflow"))
    return env


def run(script: str, *, cwd: Path, env: dict[str, str], timeout: float = 420) -> str:
    proc = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout, check=False)
    output = proc.stdout + proc.stderr
    quiet = "\n".join(line for line in output.splitlines() if not line.startswith("WARNING: Location"))
    assert proc.returncode == 0, f"exit {proc.returncode}:\n{script}\n---\n{quiet[-6000:]}"
    return output


def freeze(venv: Path, env: dict[str, str]) -> dict[str, str]:
    out = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "freeze", "--all"], env=env, capture_output=True,
                         text=True, check=True).stdout
    pairs = (re.split(r"\s*(?:==| @ )\s*", line, maxsplit=1) for line in out.splitlines() if line.strip())
    return {p[0].lower().replace("_", "-"): p[-1] for p in pairs}


def check_installed_wheel(venv: Path, env: dict[str, str], cwd: Path) -> None:
    """The provider imports from the venv's site-packages (not this checkout) and Airflow is 3.3.2."""
    probe = ("import airflow, airflow_provider_music, airflow_provider_music.operators.flowmusic as m; "
             "print(airflow.__version__, m.__file__)")
    out = subprocess.run([str(venv / "bin" / "python"), "-c", probe], cwd=cwd, env=env, capture_output=True,
                         text=True, check=True).stdout.split()
    assert out[0] == AIRFLOW
    assert str(venv) in out[1] and "site-packages" in out[1] and str(ROOT) not in out[1]


def test_readme_install_into_a_new_virtualenv(workdir):
    home = workdir / "home-new"
    env = shell_env(home)
    output = run(readme_block("new-venv"), cwd=workdir, env=env)
    assert re.search(r"airflow-provider-music\s*\|\s*0\.1\.0", output), output[-2000:]
    check_installed_wheel(home / "airflow-venv", env, workdir)


def test_readme_install_from_git_builds_the_package(workdir):
    """The README's Git line with this checkout's repository and its last commit: pip clones, builds, installs."""
    line = re.search(r'`(pip install "airflow-provider-music @ git\+<URL of this repository>@<tag>")`',
                     README.read_text(encoding="utf-8"))
    assert line, "README.md: the Git install line changed"
    home = workdir / "home-git"
    venv = home / "venv"
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    command = line.group(1).replace("<URL of this repository>", f"file://localhost{ROOT}").replace("<tag>", commit.strip())
    env = shell_env(home)
    run(f'python3.11 -m venv "{venv}" && source "{venv}/bin/activate" && {command} --no-deps', cwd=workdir, env=env)
    # --no-deps: the build and the installed files are what this checks (Airflow installs in the tests above)
    probe = ("import importlib.metadata as m; d = m.distribution('airflow-provider-music'); "
             "print(d.version, d.locate_file('airflow_provider_music/operators/base.py'), "
             "[e.value for e in d.entry_points if e.group == 'apache_airflow_provider'])")
    out = subprocess.run([str(venv / "bin" / "python"), "-c", probe], cwd=workdir, env=env, capture_output=True,
                         text=True, check=True).stdout.split(maxsplit=2)
    assert out[0] == "0.1.0" and Path(out[1]).is_file() and str(venv) in out[1]
    assert "get_provider_info" in out[2]  # the provider entry point Airflow finds it by


def test_readme_install_into_an_existing_airflow(workdir):
    home = workdir / "home-existing"
    venv = home / "deployment"
    env = shell_env(home)
    run(f'python3.11 -m venv "{venv}" && "{venv}/bin/pip" install -q --no-compile "apache-airflow=={AIRFLOW}" '
        f'--constraint constraints/airflow-3.3.txt', cwd=workdir, env=env)  # the deployment, without the provider
    env = shell_env(home, venv)
    before = freeze(venv, env)
    run(readme_block("existing"), cwd=workdir, env=env)
    after = freeze(venv, env)
    changed = {k: (v, after.get(k)) for k, v in before.items() if after.get(k) != v}
    assert changed == {}, f"installed packages changed or removed: {changed}"
    added = set(after) - set(before)
    assert "airflow-provider-music" in added and after["apache-airflow"] == AIRFLOW
    assert added <= {"airflow-provider-music", *AIOHTTP}, f"unexpected new packages: {added}"
    check_installed_wheel(venv, env, workdir)
    listed = run("airflow providers get airflow-provider-music", cwd=workdir, env=env)
    assert "0.1.0" in listed
