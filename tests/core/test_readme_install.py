"""README's first screen and Install section, kept honest (the commands themselves run in ``make test-install``)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def first_screen() -> str:
    return README.split("\n---\n", 1)[0]


def install_blocks() -> dict[str, str]:
    return dict(re.findall(r"<!-- install-test:([\w-]+) -->\s*```bash\n(.*?)```\s*<!-- /install-test -->", README, re.S))


def test_first_screen_says_who_why_and_the_path_with_exactly_two_set_up_commands():
    screen = first_screen()
    assert len(screen.splitlines()) <= 30
    commands = [line.split("#")[0].strip() for block in re.findall(r"```bash\n(.*?)```", screen, re.S)
                for line in block.splitlines() if line.strip()]
    assert commands == ["make demo", "make test"]
    bullets = [line for line in screen.splitlines() if line.startswith("- **")]
    assert len(bullets) == 3
    assert "data teams" in bullets[0]
    for promise in ("crash-safe paid jobs", "deferrable waits", "offline emulator", "copyright gate"):
        assert promise in screen
    assert "60-second path" in bullets[2] and "(#install)" in screen
    assert "pip install" not in screen


def test_install_section_uses_the_local_wheel_and_a_pinned_set_that_exists():
    blocks = install_blocks()
    assert set(blocks) == {"new-venv", "existing"}
    for name, block in blocks.items():
        commands = "\n".join(line.split("  #")[0] for line in block.splitlines())  # comments may name URLs
        assert "dist/airflow_provider_music-*.whl" in commands, name
        assert "://" not in commands, f"{name}: the tested commands use local files only"
        for path in re.findall(r"constraints/airflow-[\d.]+\.txt", commands):
            assert (ROOT / path).is_file(), path
    pinned = re.search(r"^apache-airflow==([\d.]+)$", (ROOT / "constraints/airflow-3.3.txt").read_text(), re.M)
    assert pinned and f'"apache-airflow=={pinned.group(1)}"' in blocks["new-venv"]
    install = README.split("## Install\n", 1)[1].split("\n## ", 1)[0]
    assert "on no package index" in install and "Install into an existing Airflow deployment" in install
    for component in ("dag-processor", "workers", "triggerer", "api-server"):
        assert f"| {component}" in install
