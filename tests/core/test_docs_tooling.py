"""The docs tooling: the docstring-coverage check of ``make lint`` (scripts/check_docstrings.py) and the MkDocs
hooks of ``make docs`` (scripts/docs_ext.py: links out of docs/, the changelog page, Sphinx roles)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(f"_script_{name}", ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def coverage(tmp_path, monkeypatch):
    """check_docstrings pointed at a package ``tmp_path/airflow_provider_music`` written by the test."""
    script = load_script("check_docstrings")
    package = tmp_path / "airflow_provider_music"
    (package / "testing").mkdir(parents=True)
    monkeypatch.setattr(script, "ROOT", tmp_path)
    monkeypatch.setattr(script, "PACKAGE", package)
    return script, package


MODULE = '''"""A module."""

def documented():
    """Yes."""

def undocumented():
    def nested():  # nested functions are not public API
        pass

def _private():
    pass

class Public:
    """A class."""

    def __init__(self):  # the class docstring documents the arguments
        pass

    @property
    def value(self):
        """The value."""

    @value.setter
    def value(self, new):
        pass

    def method(self):
        pass

    def _helper(self):
        pass

class _Private:
    def method(self):
        pass
'''


def test_counts_public_names_only_and_lists_the_missing(coverage, capsys):
    script, package = coverage
    (package / "mod.py").write_text(MODULE)
    (package / "bare.py").write_text("x = 1\n")
    names = dict(script.public_names(package / "mod.py"))
    assert sorted(names) == sorted([
        "airflow_provider_music/mod.py:1 (module)", "airflow_provider_music/mod.py:3 documented",
        "airflow_provider_music/mod.py:6 undocumented", "airflow_provider_music/mod.py:13 Public",
        "airflow_provider_music/mod.py:20 Public.value", "airflow_provider_music/mod.py:27 Public.method",
    ])
    assert script.main(["--min", "50"]) == 0  # 4 of 7 documented: 57.1 %
    out = capsys.readouterr().out
    assert "missing docstring: airflow_provider_music/bare.py:1 (module)" in out
    assert "missing docstring: airflow_provider_music/mod.py:6 undocumented" in out
    assert "missing docstring: airflow_provider_music/mod.py:27 Public.method" in out
    assert "57.1 % of 7 public names documented (3 missing, 2 modules)" in out


def test_fails_below_the_minimum(coverage, capsys):
    script, package = coverage
    (package / "bare.py").write_text("def f():\n    pass\n")
    assert script.main([]) == 1
    assert "0.0 % of 2 public names documented" in capsys.readouterr().out
    assert script.MIN_PERCENT == 90.0


def test_emulator_internals_count_only_with_all(coverage, capsys):
    script, package = coverage
    (package / "testing" / "server.py").write_text('"""Public: the emulator server."""\n')
    (package / "testing" / "flowmusic.py").write_text("def handler():\n    pass\n")
    assert script.main([]) == 0
    assert "100.0 % of 1 public names" in capsys.readouterr().out
    assert script.main(["--all"]) == 1
    assert "testing/flowmusic.py:1 handler" in capsys.readouterr().out


def test_the_package_meets_the_minimum(capsys):
    assert load_script("check_docstrings").main([]) == 0, capsys.readouterr().out


@pytest.fixture
def docs_ext():
    pytest.importorskip("griffe", reason="the docs extra (make docs) is not installed")
    return load_script("docs_ext")


def page(path: Path, src_uri: str):
    return SimpleNamespace(file=SimpleNamespace(abs_src_path=str(path), src_uri=src_uri))


def test_links_leaving_docs_point_at_the_repository(docs_ext):
    config = {"docs_dir": str(ROOT / "docs")}
    text = "[r](../README.md#install) [a](architecture.md#x) [w](https://example.com/a.md) [e](../example_dags/x.py)"
    out = docs_ext.on_page_markdown(text, page(ROOT / "docs" / "flowmusic.md", "flowmusic.md"), config, None)
    assert f"[r]({docs_ext.REPO_BLOB}README.md#install)" in out
    assert "[a](architecture.md#x)" in out  # inside the site: left to MkDocs' own link check
    assert "[w](https://example.com/a.md)" in out
    assert f"[e]({docs_ext.REPO_BLOB}example_dags/x.py)" in out


def test_changelog_links_into_docs_stay_in_the_site(docs_ext):
    config = {"docs_dir": str(ROOT / "docs")}
    text = "[l](docs/lineage.md#names) [r](README.md)"
    out = docs_ext.on_page_markdown(text, page(ROOT / "CHANGELOG.md", "changelog.md"), config, None)
    assert "[l](lineage.md#names)" in out
    assert f"[r]({docs_ext.REPO_BLOB}README.md)" in out


def test_sphinx_roles_become_code_spans(docs_ext):
    import griffe

    obj = griffe.Function("f", docstring=griffe.Docstring(""))
    obj.docstring.value = "Use :class:`~airflow_provider_music.core.report.TaskReport` or :func:`join_ids`::\n\n    code"
    docs_ext.SphinxRoles().on_instance(node=None, obj=obj, agent=None)
    assert obj.docstring.value == "Use `TaskReport` or `join_ids`:\n\n    code"


def test_a_new_page_joins_the_menu(docs_ext, tmp_path):
    (tmp_path / "index.md").write_text("# Home\n")
    (tmp_path / "lineage.md").write_text("intro\n# Lineage names\n")
    nav = [{"Home": "index.md"}, {"Guides": [{"A": "a.md"}]}, {"Reference": [{"Ops": "reference/ops.md"}]}]
    docs_ext.on_config({"nav": nav, "docs_dir": str(tmp_path)})
    assert nav[1] == {"Guides": [{"A": "a.md"}, {"Lineage names": "lineage.md"}]}


def test_every_module_of_a_folder_is_documented(docs_ext):
    out = docs_ext.MODULES.sub(docs_ext.module_directives, "x\n<!-- modules: sensors -->\ny")
    names = sorted(p.stem for p in (ROOT / "airflow_provider_music" / "sensors").glob("*.py") if p.stem != "__init__")
    blocks = [line for line in out.splitlines() if line.startswith(":::")]
    assert blocks[0] == "::: airflow_provider_music.sensors.base"
    assert sorted(blocks) == sorted(f"::: airflow_provider_music.sensors.{name}" for name in names)


def test_doctest_blocks_become_code_blocks(docs_ext):
    import griffe

    obj = griffe.Function("f", docstring=griffe.Docstring(""))
    obj.docstring.value = "Serve it.\n\n>>> with Emu() as emu:\n...     run(emu)\n\nMore."
    docs_ext.SphinxRoles().on_instance(node=None, obj=obj, agent=None)
    assert obj.docstring.value == "Serve it.\n\n```python\n>>> with Emu() as emu:\n...     run(emu)\n```\n\nMore."


def test_public_testing_modules_are_the_documented_ones():
    """The testing modules the coverage check counts are the ones the "Testing helpers" page documents."""
    import re

    page = (ROOT / "docs" / "reference" / "testing.md").read_text()
    documented = {f"{name}.py" for name in re.findall(r"^::: airflow_provider_music\.testing\.(\w+)$", page, re.M)}
    assert documented | {"__init__.py"} == set(load_script("check_docstrings").PUBLIC_TESTING)
