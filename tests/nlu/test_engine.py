"""The engine trained on the project's data: Rasa-compatible output with our fields, on real citizens' phrasing."""

from __future__ import annotations

from pathlib import Path

import pytest

from nlu.engine import NLUEngine
from nlu.store import ModelStore


@pytest.fixture(scope="module")
def engine(trained_model_dir: Path) -> NLUEngine:
    return NLUEngine.load(ModelStore(trained_model_dir).active_path())


def test_output_shape(engine: NLUEngine) -> None:
    p = engine.parse("Đường ở phường Bến Nghé, quận 1 ngập nặng, gọi tôi 0912345678").to_dict()
    assert set(p) >= {"text", "intent", "intent_ranking", "entities", "category", "location", "urgent", "model"}
    assert p["intent"]["name"] == "gui_phan_anh" and 0 < p["intent"]["confidence"] <= 1
    assert p["intent_ranking"][0]["name"] == "gui_phan_anh"
    assert p["category"]["name"] == "ha_tang"
    assert p["location"]["province"] == "Thành phố Hồ Chí Minh" and p["location"]["commune"] == "Phường Sài Gòn"
    assert p["location"]["via_old_address"] is True
    kinds = {e["entity"] for e in p["entities"]}
    assert {"phone", "commune", "province"} <= kinds
    for e in p["entities"]:
        assert p["text"][e["start"] : e["end"]]


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("xin chào", "chao_hoi"),
        ("cảm ơn nhiều nhé", "cam_on"),
        ("phản ánh PA-7K2M-Q9XD của tôi đến đâu rồi", "tra_cuu_trang_thai"),
    ],
)
def test_dialogue_acts(engine: NLUEngine, text: str, intent: str) -> None:
    assert engine.parse(text).intent.name == intent


def test_urgent_and_without_diacritics(engine: NLUEngine) -> None:
    p = engine.parse("cuu voi nuoc lu dang len ngap het nha o xa minh roi")
    assert p.urgent is True
    plain = engine.parse("rac thai do trom ben song boc mui hoi thoi")
    assert plain.intent.name == "gui_phan_anh" and plain.category and plain.category.name == "moi_truong"


def test_input_is_nfc_normalised(engine: NLUEngine) -> None:
    import unicodedata

    text = "Đường ở phường Hoàn Kiếm, Hà Nội bị sụt lún"
    a, b = engine.parse(text), engine.parse(unicodedata.normalize("NFD", text))
    assert a.text == b.text and a.intent == b.intent and a.location == b.location


def test_empty_and_odd_input_never_crash(engine: NLUEngine) -> None:
    for text in ("", "   ", "😀😀", "a" * 5000, "\x00"):
        p = engine.parse(text)
        assert p.intent.name
