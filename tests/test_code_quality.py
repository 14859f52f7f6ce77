"""The code rules every change keeps: layering (bot/, nlu/, handlers/ never import backend/), ruff, mypy strict."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


@pytest.mark.parametrize("package", ["bot", "nlu", "handlers"])
def test_inner_packages_never_import_backend(package: str) -> None:
    offenders = []
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] == "backend"]
    assert offenders == []


def test_telegram_types_stay_inside_the_telegram_adapter() -> None:
    offenders = []
    for path in ROOT.glob("*/**/*.py"):
        rel = path.relative_to(ROOT)
        if rel.parts[0] in (".venv", "tests") or rel.parts[:2] == ("bot", "telegram"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "telegram":
                offenders.append(str(rel))
            if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "telegram" for a in node.names):
                offenders.append(str(rel))
    assert offenders == []


def test_ruff() -> None:
    result = subprocess.run([str(BIN / "ruff"), "check", "."], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict(tmp_path: Path) -> None:
    mypy = BIN / "mypy"
    if not mypy.exists() and shutil.which("mypy") is None:
        pytest.fail("mypy is part of the test extras; install with pip install -e '.[test]'")
    result = subprocess.run(
        [str(mypy), "--cache-dir", str(tmp_path / "mypy"), "bot", "nlu", "handlers", "backend"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
