"""The floors of the code hold: the import-linter contract in pyproject.toml passes on the tree as it is,
and fails as soon as a lower domain imports a higher one — checked on a copy of the package with one
forbidden import added, so the guard itself is known to work."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import project_root

ROOT = project_root()
LINT = Path(sys.executable).parent / "lint-imports"


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT), "--no-cache", "--no-logo", str(tree / "pyproject.toml")],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _copy(tmp_path: Path) -> Path:
    tree = tmp_path / "tree"
    shutil.copytree(ROOT / "api", tree / "api", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tree / "pyproject.toml")
    return tree


def test_the_code_keeps_its_floors(tmp_path):
    result = _lint(_copy(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


def test_a_lower_domain_importing_a_higher_one_breaks_the_build(tmp_path):
    tree = _copy(tmp_path)
    services = tree / "api" / "eldercare" / "services.py"
    services.write_text(services.read_text() + "\nfrom api.alerts.models import Alert  # noqa\n")
    result = _lint(tree)
    assert result.returncode != 0
    assert "api.eldercare.services -> api.alerts.models" in result.stdout
