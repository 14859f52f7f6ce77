"""The reply templates (data/templates/vi.yml) are the one place for what citizens read: every template the loader
requires is used by the code, the file holds nothing else, and no reply text is hard-coded in handlers/ or bot/."""

from __future__ import annotations

import ast
import re
import shutil
from pathlib import Path

import yaml

from backend.config import Settings
from backend.container import Container
from handlers.texts import OPTIONAL, REQUIRED

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "data" / "templates" / "vi.yml"
VIETNAMESE = re.compile(r"[ăâđêôơưàáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ]", re.IGNORECASE)


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def _strings(*tops: str) -> list[tuple[Path, ast.Constant]]:
    """Every string literal of the code under ``tops`` except docstrings (f-string parts included)."""
    out = []
    for top in tops:
        for path in sorted((ROOT / top).rglob("*.py")):
            if path == ROOT / "handlers" / "texts.py" or "migrations" in path.parts:
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            docs = _docstrings(tree)
            out += [
                (path, node)
                for node in ast.walk(tree)
                if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs
            ]
    return out


def test_every_required_template_is_used_by_the_code() -> None:
    literals = {node.value for _, node in _strings("handlers", "backend", "bot")}
    unused = [
        key
        for key in REQUIRED
        if key not in literals and not (key.startswith("notify_status_") and "notify_status_" in literals)
    ]
    assert unused == [], "templates nothing renders: remove them from handlers/texts.py and vi.yml"


def test_the_template_file_holds_only_known_templates() -> None:
    raw = yaml.safe_load(TEMPLATES.read_text(encoding="utf-8"))
    known = set(REQUIRED) | set(OPTIONAL) | {"status_names", "category_names"}
    assert sorted(set(raw) - known) == []


def test_no_reply_text_is_hard_coded_in_handlers_or_bot() -> None:
    texts = [
        f"{path.relative_to(ROOT)}:{node.lineno} {node.value!r}"
        for path, node in _strings("handlers", "bot")
        if VIETNAMESE.search(str(node.value)) and len(str(node.value).split()) > 1
    ]
    assert texts == [], "citizen-facing texts belong in data/templates/vi.yml"


async def test_the_numbered_menu_hint_comes_from_the_templates(tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(ROOT / "data" / "templates", data / "templates")
    text = (data / "templates" / "vi.yml").read_text(encoding="utf-8")
    hint = "Xin Ông/Bà nhắn lại con số của lựa chọn."
    text = re.sub(r"(?m)^menu_hint: .*$", f'menu_hint: "{hint}"', text)
    (data / "templates" / "vi.yml").write_text(text, encoding="utf-8")
    settings = Settings(
        _env_file=None,
        environment="test",
        database_url=f"sqlite:///{tmp_path / 'g.db'}",
        redis_url="",
        data_dir=data,
        telegram_token="123456:TEST-token",
        telegram_secret="s" * 24,
        zalobot_token="zb-token",
        zalobot_secret="z" * 24,
    )
    container = Container(settings)
    try:
        senders = await container.channels.senders()
        assert {"telegram", "zalobot"} <= set(senders)
        assert {name: s.menu_hint for name, s in senders.items()} == {name: hint for name in senders}
        await container.channels.aclose()
    finally:
        container.close()
