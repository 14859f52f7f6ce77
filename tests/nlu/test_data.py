"""The project's own training and held-out data: complete, big enough, no duplicates, no leaks."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from nlu import vocab
from nlu.cli import DEFAULT_DATA
from nlu.rasa_data import load_examples

ROOT = Path(__file__).resolve().parents[2]
CATEGORIES = set(vocab.CATEGORIES)
INTENTS = set(vocab.INTENTS) - {vocab.FEEDBACK_INTENT}  # feedback is labelled with its category
TRAIN = load_examples([ROOT / p for p in DEFAULT_DATA])
HELDOUT = load_examples([ROOT / "data" / "nlu" / "test" / "heldout.yml"])


def key(text: str) -> str:
    return text.lower().strip(" .!?")


def test_every_label_of_the_spec_with_enough_examples() -> None:
    counts = Counter(e.label for e in TRAIN)
    assert set(counts) == {f"gui_phan_anh/{c}" for c in CATEGORIES} | INTENTS
    assert min(n for label, n in counts.items() if "/" in label) >= 150
    assert min(n for label, n in counts.items() if "/" not in label) >= 40


def test_no_duplicate_training_examples() -> None:
    dup = [t for t, n in Counter(key(e.text) for e in TRAIN).items() if n > 1]
    assert dup == []


def test_heldout_is_outside_the_training_paths_and_does_not_leak() -> None:
    assert all("test" not in str(p) for p in DEFAULT_DATA)
    train = {key(e.text) for e in TRAIN}
    leaked = [e.text for e in HELDOUT if key(e.text) in train and len(e.text.split()) > 3]
    assert leaked == []
    assert {e.label for e in HELDOUT} == {e.label for e in TRAIN}


# -- the real-world corpus (issue 12) ------------------------------------------------------------------------
REALWORLD = load_examples([ROOT / "data" / "nlu" / "test" / "realworld.yml"])
PROVENANCE = ROOT / "data" / "nlu" / "realworld" / "provenance.yml"
REALWORLD_TRAIN = ROOT / "data" / "nlu" / "realworld" / "train.yml"


def test_realworld_heldout_is_big_covers_every_category_and_is_partly_typed_without_diacritics() -> None:
    from nlu.normalize import has_diacritics

    assert len(REALWORLD) >= 150
    assert {e.label for e in REALWORLD} == {f"gui_phan_anh/{c}" for c in CATEGORIES}
    plain = [e.text for e in REALWORLD if not has_diacritics(e.text)]
    assert 0.15 <= len(plain) / len(REALWORLD) <= 0.30
    words = {w for t in plain for w in t.lower().split()}
    assert {"ko", "dc", "vs"} <= words
    assert sum(len(e.text.split()) for e in REALWORLD) / len(REALWORLD) >= 35  # long, narrative messages


def test_realworld_heldout_never_leaks_into_training() -> None:
    assert REALWORLD_TRAIN.parent in [ROOT / p for p in DEFAULT_DATA]
    train = {key(e.text) for e in TRAIN}
    assert [e.text for e in REALWORLD if key(e.text) in train] == []


def test_every_realworld_example_has_a_source_and_a_page_feeds_one_split_only() -> None:
    import yaml

    from nlu.rasa_data import strip_entities

    doc = yaml.safe_load(PROVENANCE.read_text(encoding="utf-8"))
    by_example: dict[str, str] = {}
    for source in doc["sources"]:
        assert source["url"] and source["date"] and source["items"], source["id"]
        splits = {item["used_in"] for item in source["items"]}
        assert len(splits) == 1, source["id"]
        for item in source["items"]:
            by_example[key(item["example"])] = item["used_in"]
    assert all(by_example.get(key(strip_entities(e.text))) == "test/realworld.yml" for e in REALWORLD)
    train_real = load_examples([REALWORLD_TRAIN])
    assert all(by_example.get(key(e.text)) == "realworld/train.yml" for e in train_real)
    assert len(train_real) >= 100
