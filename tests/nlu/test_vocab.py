"""The shared vocabulary (nlu/vocab.py) and the typed parse result (nlu/result.py): one definition that every layer
reads the same way."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from nlu import vocab
from nlu.entities import extract
from nlu.result import Candidate, Entity, Label, Location, ParseResult

ROOT = Path(__file__).resolve().parents[2]


# -- labels and statuses ----------------------------------------------------------------------------------------------
def test_the_labels_are_the_specs_and_every_layer_names_them() -> None:
    from backend.domain import statuses, taxonomy

    assert len(vocab.INTENTS) == 11 and len(vocab.CATEGORIES) == 14 and len(vocab.STATUSES) == 8
    assert vocab.FEEDBACK_INTENT in vocab.INTENTS and {vocab.URGENT_CATEGORY, vocab.OTHER_CATEGORY} < set(
        vocab.CATEGORIES
    )
    assert list(taxonomy.CATEGORIES) == list(vocab.CATEGORIES) and taxonomy.INTENTS == vocab.INTENTS
    assert statuses.ALL_STATUSES == vocab.STATUSES and set(statuses.TRANSITIONS) == set(vocab.STATUSES)
    assert vocab.OPEN_STATUSES | vocab.FINAL_STATUSES | {vocab.DA_TRA_LOI} == set(vocab.STATUSES)
    assert not vocab.OPEN_STATUSES & vocab.FINAL_STATUSES
    names = yaml.safe_load((ROOT / "data" / "templates" / "vi.yml").read_text(encoding="utf-8"))
    assert set(names["category_names"]) == set(vocab.CATEGORIES)
    assert set(names["status_names"]) == set(vocab.STATUSES)


# -- ticket codes -----------------------------------------------------------------------------------------------------
def test_codes_are_made_and_read_in_one_way() -> None:
    code = vocab.new_ticket_code()
    assert vocab.canonical_ticket_code(code) == code == vocab.format_ticket_code(code[3:7] + code[8:])
    text = f"ma {code.lower().replace('-', ' ')} sao roi, va PA-IK3Q-M2XO nua"
    assert [c for _, _, c in vocab.find_ticket_codes(text)] == [code, "PA-1K3Q-M2X0"]
    assert vocab.canonical_ticket_code("ma PA-7K3Q-M2XD") is None  # alone only; inside text: find_ticket_codes


@given(st.text(alphabet="PAa-_ 0123456789ILOUKQMXDpz\n", max_size=16))
def test_the_chat_the_nlu_and_the_backend_read_a_typed_code_alike(typed: str) -> None:
    from backend.domain.codes import canonical_ticket_code
    from handlers.context import ticket_code

    alone = canonical_ticket_code(typed)
    if alone is not None:
        assert ticket_code(typed) == alone
        assert [e["value"] for e in extract(typed) if e["entity"] == "ticket_code"] == [alone]


# -- folding ----------------------------------------------------------------------------------------------------------
def test_folding() -> None:
    assert vocab.strip_diacritics("Đường ở phường Hoàn Kiếm") == "Duong o phuong Hoan Kiem"
    assert vocab.fold_chars("ĐƯỜNG, Ngập!") == "duong, ngap!"
    assert vocab.fold("  Đồng ý!!  ") == "dong y" and vocab.fold("/Start") == "/start"
    assert vocab.fold("hoà bình") == vocab.fold("hòa bình") == "hoa binh"


@given(st.text(max_size=60))
def test_fold_chars_keeps_positions(text: str) -> None:
    """Location spans found in the folded text index the original (NFC) text."""
    nfc = vocab.nfc(text).lower()
    assert len(vocab.fold_chars(text)) == len(nfc)
    assert vocab.fold(vocab.fold(text)) == vocab.fold(text)


# -- the parse result -------------------------------------------------------------------------------------------------
RESULT = ParseResult(
    text="Đường ở phường Bến Nghé ngập, gọi 0912345678",
    intent=Label("gui_phan_anh", 0.93),
    intent_ranking=(Label("gui_phan_anh", 0.93), Label("tro_giup", 0.02)),
    entities=(
        Entity("commune", "Phường Sài Gòn", 7, 23, 0.9, "gopy_gazetteer", code="26734"),
        Entity("phone", "0912345678", 34, 44),
    ),
    category=Label("ha_tang", 0.8),
    category_ranking=(Label("ha_tang", 0.8),),
    location=Location(
        "Thành phố Hồ Chí Minh",
        "79",
        "Phường Sài Gòn",
        "26734",
        (Candidate("26734", "Phường Sài Gòn", "79"),),
        True,
        "phường Bến Nghé",
    ),
    urgent=False,
    model="20261201-000000",
)


def test_the_wire_form_is_rasa_compatible_and_reads_back() -> None:
    wire = RESULT.to_dict()
    assert list(wire) == [
        "text",
        "intent",
        "intent_ranking",
        "entities",
        "category",
        "category_ranking",
        "location",
        "urgent",
        "low_confidence",
        "model",
    ]
    assert wire["intent"] == {"name": "gui_phan_anh", "confidence": 0.93}
    assert wire["entities"][0] == {
        "entity": "commune",
        "value": "Phường Sài Gòn",
        "code": "26734",
        "start": 7,
        "end": 23,
        "confidence": 0.9,
        "extractor": "gopy_gazetteer",
    }
    assert wire["location"]["candidates"] == [{"code": "26734", "name": "Phường Sài Gòn", "province_code": "79"}]
    assert ParseResult.from_dict(wire) == RESULT
    assert RESULT.entity_values("phone") == ["0912345678"]


@pytest.mark.parametrize(
    "raw",
    [None, {}, [], {"intent": "x", "entities": "y", "location": 3, "category": {"name": 1}}, {"intent": {}}],
)
def test_a_malformed_wire_form_reads_as_out_of_scope(raw: object) -> None:
    parsed = ParseResult.from_dict(raw)
    assert parsed.intent == Label(vocab.NGOAI_PHAM_VI, 0.0)
    assert (parsed.entities, parsed.category, parsed.location) == ((), None, None)


def test_the_engine_gives_a_typed_result_whose_json_is_unchanged(trained_model_dir: Path) -> None:
    from nlu.engine import NLUEngine
    from nlu.store import ModelStore

    engine = NLUEngine.load(ModelStore(trained_model_dir).active_path())
    parsed = engine.parse("Đường ở phường Bến Nghé, quận 1 ngập nặng, gọi tôi 0912345678")
    assert isinstance(parsed, ParseResult) and parsed.location and parsed.location.found
    wire = parsed.to_dict()
    assert ParseResult.from_dict(wire) == parsed
    assert {e["entity"] for e in wire["entities"]} >= {"phone", "commune", "province"}
    assert all(wire["text"][e["start"] : e["end"]] for e in wire["entities"])
