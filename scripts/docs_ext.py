"""MkDocs hooks and a griffe extension for the documentation site (``make docs``, configured in mkdocs.yml).

* ``on_config``: pass-through ``**kwargs`` parameters are no warning (:class:`_KwargsParameters`); a new page
  in docs/ joins the menu under "Guides".
* ``on_files``: the repository's ``CHANGELOG.md`` becomes the site's ``changelog.md`` (one source).
* ``on_page_markdown``: ``<!-- modules: operators -->`` on a reference page becomes one mkdocstrings block per
  module of that folder (a new module needs no edit); a relative link that leaves ``docs/``
  (``../README.md#install``, ``../example_dags/...``) points at the file in the repository; a link from the changelog into ``docs/`` stays inside the site.
  Links inside the site stay relative, so MkDocs still checks them (``strict``).
* :class:`SphinxRoles`: the docstrings are reStructuredText-flavoured like Airflow's (``:class:`X```,
  ``:param x:``); mkdocstrings parses the ``:param:`` fields, this turns the inline roles into code spans,
  doctest blocks into code blocks and a paragraph's closing ``::`` into ``:`` so the Markdown reads cleanly.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import griffe

ROOT = Path(__file__).resolve().parent.parent
REPO_BLOB = "https://github.com/airflow-provider-music/airflow-provider-music/blob/main/"
LINK = re.compile(r"\]\((?!https?:|mailto:|#|/)([^)#\s]+)(#[^)\s]*)?\)")
ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|attr|exc|data|obj|const):`(~?)([^`]+)`")
CLOSING_COLONS = re.compile(r"(\S)::$", re.MULTILINE)
DOCTEST = re.compile(r"^(>>> .*(?:\n(?!\s*$).*)*)", re.MULTILINE)  # a doctest block: up to a blank line
MODULES = re.compile(r"^<!-- modules: (\w+) -->$", re.MULTILINE)


class _KwargsParameters(logging.Filter):
    """Drop griffe's "No matching parameter for 'x'": a class documents arguments it passes on to its base
    through ``**kwargs`` (``riffusion_conn_id``, ``destination``, ...). Every other docstring warning stays."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "No matching parameter for" not in record.getMessage()


def _listed(nav: Any) -> set[str]:
    """Every page path named in the nav (nested sections included)."""
    if isinstance(nav, str):
        return {nav}
    items = nav.values() if isinstance(nav, dict) else nav
    return set().union(*(_listed(item) for item in items)) if items else set()


def on_config(config: Any) -> Any:
    """Install the griffe log filter (mkdocstrings routes griffe's log to ``mkdocs.plugins.griffe``), and list
    every top-level page of docs/ that the nav lacks under "Guides" (titled by its first heading), so a new
    guide is in the menu without editing mkdocs.yml."""
    logging.getLogger("mkdocs.plugins.griffe").addFilter(_KwargsParameters())
    listed = _listed(config["nav"])
    guides = next(item["Guides"] for item in config["nav"] if isinstance(item, dict) and "Guides" in item)
    for path in sorted(Path(config["docs_dir"]).glob("*.md")):
        if path.name not in listed:
            heading = next((line[2:].strip() for line in path.read_text(encoding="utf-8").splitlines()
                            if line.startswith("# ")), path.stem)
            guides.append({heading: path.name})
    return config


def on_files(files: Any, config: Any) -> Any:
    """Add the repository's CHANGELOG.md to the site as ``changelog.md``."""
    from mkdocs.structure.files import File

    files.append(File.generated(config, "changelog.md", abs_src_path=str(ROOT / "CHANGELOG.md")))
    return files


def module_directives(match: re.Match[str]) -> str:
    """``::: airflow_provider_music.<folder>.<module>`` for every module of the folder: ``base`` first, then by
    name, so a new module is documented without editing the page."""
    folder = match.group(1)
    names = sorted(p.stem for p in (ROOT / "airflow_provider_music" / folder).glob("*.py") if not p.stem.startswith("_"))
    names.sort(key=lambda name: name != "base")
    return "\n\n".join(f"::: airflow_provider_music.{folder}.{name}" for name in names)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Expand ``<!-- modules: folder -->`` (:func:`module_directives`); point links that leave the docs folder
    at the repository; keep links into the site relative."""
    markdown = MODULES.sub(module_directives, markdown)
    docs_dir = Path(config["docs_dir"]).resolve()
    source = Path(page.file.abs_src_path).resolve()

    def rewrite(match: re.Match[str]) -> str:
        target, anchor = match.group(1), match.group(2) or ""
        resolved = (source.parent / target).resolve()
        if resolved.is_relative_to(docs_dir):  # the changelog (at the site's root) links docs/x.md as x.md
            return match.group(0) if source.is_relative_to(docs_dir) else f"]({resolved.relative_to(docs_dir).as_posix()}{anchor})"
        if resolved.is_relative_to(ROOT):
            return f"]({REPO_BLOB}{resolved.relative_to(ROOT).as_posix()}{anchor})"
        return match.group(0)

    return LINK.sub(rewrite, markdown)


def _code_span(role: re.Match[str]) -> str:
    """A role's target as Sphinx shows it: the last name with ``~``, else as written."""
    tilde, target = role.group(1), role.group(2)
    return f"`{target.rsplit('.', 1)[-1] if tilde else target}`"


class SphinxRoles(griffe.Extension):
    """Render Sphinx inline roles (``:class:`~a.B```) as code spans, ``text::`` as ``text:`` and doctest blocks
    (``>>>`` lines) as Python code blocks."""

    def on_instance(self, *, node: Any, obj: griffe.Object, agent: Any, **kwargs: Any) -> None:
        """Rewrite the docstring of every loaded object once."""
        if obj.docstring is not None:
            value = ROLE.sub(_code_span, obj.docstring.value)
            value = DOCTEST.sub(lambda m: f"```python\n{m.group(1)}\n```", value)
            obj.docstring.value = CLOSING_COLONS.sub(r"\1:", value)
