"""The code rules every change keeps: layering (bot/, nlu/, handlers/ never import backend/), ruff, mypy strict."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def test_import_contracts() -> None:
    """The contracts in pyproject.toml ([tool.importlinter]): bot/, nlu/, handlers/ never import backend/; the
    vocabulary needs nothing but the standard library; the domain imports neither the ORM nor FastAPI; routes do
    not import other routes; no module is imported in a cycle (tests/import_contracts.py)."""
    lint = BIN / "lint-imports"
    if not lint.exists():
        pytest.fail("import-linter is part of the test extras; install with pip install -e '.[test]'")
    result = subprocess.run(
        [str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, env={**os.environ, "NO_COLOR": "1"}
    )
    assert result.returncode == 0, result.stdout[result.stdout.find("Contracts") :] + result.stderr


def test_broken_contracts_are_caught(tmp_path: Path) -> None:
    """The cycle contract sees a cycle through a function-level import (the kind the flows once had)."""
    import grimp

    from tests.import_contracts import module_cycles

    pkg = tmp_path / "cyc"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from cyc import b\n")
    (pkg / "b.py").write_text("def f() -> None:\n    from cyc import c\n")
    (pkg / "c.py").write_text("import cyc.a\n")
    (pkg / "d.py").write_text("import cyc.a\n")
    sys.path.insert(0, str(tmp_path))
    try:
        graph = grimp.build_graph("cyc", cache_dir=None)
    finally:
        sys.path.remove(str(tmp_path))
    assert module_cycles(graph, {"cyc"}) == [["cyc.a", "cyc.b", "cyc.c"]]


# -- the shared vocabulary (nlu/vocab.py) is defined once --------------------------------------------------------
PACKAGES = ("bot", "nlu", "handlers", "backend")


def _sources(*tops: str) -> list[Path]:
    skip = {ROOT / "nlu" / "vocab.py"}
    return [
        p
        for top in tops
        for p in sorted((ROOT / top).rglob("*.py"))
        if p not in skip and "migrations" not in p.parts and "__pycache__" not in p.parts
    ]


def test_the_vocabulary_is_not_copied() -> None:
    """Statuses, categories and intents, ticket-code parsing, diacritic folding and the text limit live in
    nlu/vocab.py; other modules import them instead of spelling their own copy."""
    from nlu import vocab

    families = {
        "statuses": set(vocab.STATUSES),
        "categories": set(vocab.CATEGORIES),
        "intents": set(vocab.INTENTS),
    }
    copies = []
    for path in _sources(*PACKAGES, "tests"):
        rel = path.relative_to(ROOT)
        package_code = rel.parts[0] != "tests"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Set | ast.Tuple | ast.List):
                words = {e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)}
                for family, known in families.items():
                    if len(words) >= 4 and words <= known:
                        copies.append(f"{rel}:{node.lineno}: a list of {family}")
            if not package_code or not isinstance(node, ast.Constant):
                continue
            if node.value == vocab.CROCKFORD:
                copies.append(f"{rel}:{node.lineno}: the ticket-code alphabet")
            elif node.value in ("Mn", "NFD", "NFKD"):
                copies.append(f"{rel}:{node.lineno}: diacritic folding ({node.value!r})")
            elif node.value == vocab.MAX_TEXT and not isinstance(node.value, bool):
                copies.append(f"{rel}:{node.lineno}: the text limit")
    assert copies == []


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
