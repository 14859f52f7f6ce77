"""No dead code: every top-level function and class of bot/, nlu/, handlers/ and backend/ is used somewhere (by the
code, or at least by a test). Decorated ones (routes, commands, fixtures) are used by their decorator."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bot", "nlu", "handlers", "backend")


def _module(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _base(node: ast.expr, aliases: dict[str, str]) -> str | None:
    """The module an attribute chain starts from: an imported name, or ``__import__("pkg.mod")`` (gives ``pkg``)."""
    if isinstance(node, ast.Name):
        return aliases.get(node.id)
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "__import__"
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    ):
        return node.args[0].value.split(".")[0]
    return None


def used_names(tree: ast.Module, module: str) -> set[tuple[str, str]]:
    """(module, name) pairs this file refers to: its own names, names it imports, and ``mod.name`` attributes."""
    used: set[tuple[str, str]] = set()
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for a in node.names:
                used.add((node.module, a.name))
                aliases[a.asname or a.name] = f"{node.module}.{a.name}"
        elif isinstance(node, ast.Import):
            for a in node.names:
                aliases[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            used.add((module, node.id))
        elif isinstance(node, ast.Attribute):
            chain: list[str] = []
            inner: ast.expr = node
            while isinstance(inner, ast.Attribute):
                chain.append(inner.attr)
                inner = inner.value
            base = _base(inner, aliases)
            if base is not None:
                full = [base, *reversed(chain)]
                used.update((".".join(full[:i]), full[i]) for i in range(1, len(full)))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and ":" in node.value:
            mod, _, name = node.value.partition(":")  # "package.module:object" entry points
            used.add((mod, name))
    return used


def unused_definitions(root: Path = ROOT) -> list[str]:
    sources = [p for top in PACKAGES for p in (root / top).rglob("*.py") if "migrations" not in p.parts]
    every = sources + list((root / "tests").rglob("*.py"))
    trees = {p: ast.parse(p.read_text(encoding="utf-8")) for p in every}
    used: set[tuple[str, str]] = set()
    for path, tree in trees.items():
        used |= used_names(tree, _module(path, root))
    unused = []
    for path in sources:
        module = _module(path, root)
        for node in trees[path].body:
            if (
                isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
                and not node.decorator_list
                and not node.name.startswith("__")
                and (module, node.name) not in used
            ):
                unused.append(f"{path.relative_to(root)}:{node.lineno} {node.name}")
    return unused


def test_no_unused_functions_or_classes() -> None:
    assert unused_definitions() == [], "remove them, or use them"


def test_the_check_sees_an_unused_function_and_accepts_used_ones(tmp_path: Path) -> None:
    (tmp_path / "backend").mkdir()
    (tmp_path / "tests").mkdir()
    (tmp_path / "backend" / "a.py").write_text(
        "def used_here() -> int:\n    return 1\n\nX = used_here()\n\n"
        "def used_elsewhere() -> None: ...\n\ndef by_attribute() -> None: ...\n\ndef dead() -> None: ...\n"
    )
    (tmp_path / "backend" / "b.py").write_text("from backend.a import used_elsewhere\nimport backend.a\n")
    (tmp_path / "tests" / "test_b.py").write_text("import backend.a as a\n\na.by_attribute()\n")
    assert unused_definitions(tmp_path) == ["backend/a.py:10 dead"]
