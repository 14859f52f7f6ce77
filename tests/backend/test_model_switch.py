"""`gopy nlu activate` in another process is picked up by running servers without a restart."""

from __future__ import annotations

from pathlib import Path

from backend.container import EngineParser
from nlu.rasa_data import Example
from nlu.store import ModelStore, train

EXAMPLES = [
    Example(t, label, "x")
    for label, texts in {
        "chao_hoi": ["xin chào", "chào bạn", "alo", "hello"],
        "gui_phan_anh/ha_tang": ["đường hỏng", "mất điện", "cống tắc", "đèn đường tắt"],
    }.items()
    for t in texts
]


def test_activation_is_picked_up(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "models")
    first = store.save(*train(EXAMPLES))
    store.activate(first.name)
    parser = EngineParser(tmp_path / "models", tmp_path, bootstrap=False)
    parser.CHECK_SECONDS = 0.0
    assert parser.parse("đường hỏng").model == first.name
    second = store.save(*train(EXAMPLES[:-1]))
    assert second.name != first.name
    store.activate(second.name)
    assert parser.parse("đường hỏng").model == second.name
