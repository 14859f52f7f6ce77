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


def test_a_loaded_model_is_kept_out_of_the_collectors_passes_and_a_replaced_one_is_not(tmp_path: Path) -> None:
    """The active model's objects are frozen (``gc.freeze``): a full collection no longer walks them inside a
    message batch. On a switch they are unfrozen first, so the old model can be collected."""
    import gc
    import weakref

    store = ModelStore(tmp_path / "models")
    store.activate(store.save(*train(EXAMPLES)).name)
    parser = EngineParser(tmp_path / "models", tmp_path, bootstrap=False)
    try:
        engine = parser.engine()
        engine.cycle = [engine]  # garbage only a collection frees (reference cycles), as a model may hold
        old = weakref.ref(engine)
        del engine
        assert gc.get_freeze_count() > 0
        parser.reload()
        assert gc.get_freeze_count() > 0 and parser.engine() is not old()
        gc.collect()
        assert old() is None  # the replaced model was freed
    finally:
        gc.unfreeze()
