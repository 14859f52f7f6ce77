"""The shortcuts of the NLU's hot path answer exactly as the plain computations they replace.

Each shortcut skips work that cannot change the answer (a location scan at lower-case words that only an old
district name starts, the date patterns that need a digit on a text without digits, a space-collapsing pass that
``split`` already does, a sort that ``np.unique`` would do); each is checked here against the plain computation, on
the training, held-out and real-world texts and on edge cases. The word segmenter's caches are checked by
segmenting the same texts with caches filled in another order and after clearing them.
"""

from __future__ import annotations

import gc
import random
import re
import unicodedata
from pathlib import Path

import numpy as np
import pytest

from nlu import entities
from nlu.cli import DEFAULT_DATA
from nlu.gazetteer import key, short_name
from nlu.linear import _counted
from nlu.location import (
    STREET_WORDS,
    LocationExtractor,
    _accented_name,
    _name_key,
    _short_key,
    _street_before,
    accented,
)
from nlu.normalize import ABBREVIATIONS, fix_tone_marks, lowered_words, normalize
from nlu.rasa_data import load_examples
from nlu.segment import CrfSegmenter, _openings
from nlu.urgency import _prepared
from nlu.vocab import fold_chars, nfc, strip_diacritics
from tests.nlu.realworld import TEAM_HELDOUT, load_items

ROOT = Path(__file__).resolve().parents[2]
EDGES = [
    "",
    " ",
    "\u00a0x\u2003y\u3000z\t\n",
    "Ở Cầu Giấy, cầu giấy; ĐỒNG HỶ. đồng hỷ",
    "hôm nay 12/3/2024 lúc 8h30, gọi 0912 345 678",
    "Hôm Qua (tối qua) ngày 5",
    "ngày\u00a012",
    "٣/٤",
    "x\u0301a",
]


@pytest.fixture(scope="module")
def texts() -> list[str]:
    examples = load_examples([ROOT / p for p in DEFAULT_DATA] + [TEAM_HELDOUT])
    base = [e.text for e in examples] + [it.text for it in load_items()] + EDGES
    return base + [strip_diacritics(t) for t in base[::5]] + [t.upper() for t in base[1::7]]


def _scan_every_starter(ex: LocationExtractor) -> LocationExtractor:
    """The same extractor scanning at every word a place name can start with, in any case."""
    plain = LocationExtractor.__new__(LocationExtractor)
    plain.__dict__.update(ex.__dict__)
    plain._starters = ex._starters | ex._capital_starters
    plain._capital_starters = frozenset()
    return plain


def test_location_skips_only_words_where_nothing_can_be_found(texts: list[str]) -> None:
    ex = LocationExtractor()
    plain = _scan_every_starter(ex)
    assert ex._capital_starters and not ex._capital_starters & ex._starters
    differ = [t for t in texts if ex.extract(nfc(t).strip()) != plain.extract(nfc(t).strip())]
    assert differ == []
    found = ex.extract("Đường ở Cầu Giấy bị ngập")  # an old district with a capital and no prefix still counts
    assert found is not None and found.province is not None and found.province.code == "01"


def test_dates_and_phones_are_those_of_the_full_patterns(texts: list[str]) -> None:
    def plain(text: str) -> list[tuple[str, str, int, int]]:
        found = [(m.group(0).lower(), "date", m.start(), m.end()) for m in entities._DATE.finditer(text)]
        return found + [(m.group(0), "phone", m.start(), m.end()) for m in entities._PHONE.finditer(text)]

    def shortcut(text: str) -> list[tuple[str, str, int, int]]:
        out = entities.extract(text)
        return [(e["value"], e["entity"], e["start"], e["end"]) for e in out if e["entity"] in ("date", "phone")]

    without_digits = [t for t in texts if not re.search(r"\d", t)]
    assert len(without_digits) > 1000 and any(plain(t) for t in without_digits)
    for text in without_digits:
        assert [f for f in plain(text) if f[1] == "date"] == [f for f in shortcut(text) if f[1] == "date"]
        assert not [f for f in plain(text) if f[1] == "phone"]
    assert [e["entity"] for e in entities.extract("hôm nay 12/3/2024, gọi 0912 345 678")] == ["date", "date", "phone"]


def test_normalize_equals_the_regular_expression_version(texts: list[str]) -> None:
    def plain(text: str) -> str:
        text = re.sub(r"([.,;:!?()\"'])", r" \1 ", fix_tone_marks(nfc(text).lower()))
        text = re.sub(r"\s+", " ", text).strip()
        return " ".join(ABBREVIATIONS.get(w, w) for w in text.split())

    spaces = "".join(chr(c) for c in range(0x3001) if chr(c).isspace() or re.fullmatch(r"\s", chr(c)))
    rng = random.Random(16)
    noise = ["".join(rng.choice(spaces + "a.,;:!?()\"'ko đc") for _ in range(30)) for _ in range(2000)]
    differ = [t for t in [*texts, *noise] if normalize(t) != plain(t)]
    assert differ == []
    assert normalize("Cháy!!  ko\u00a0ai (cứu)") == "cháy ! ! không ai ( cứu )"


def test_urgency_prepares_the_text_as_before(texts: list[str]) -> None:
    short = {"nc": "nước", "ng": "người", "ko": "không", "k": "không", "dc": "được", "đc": "được", "vs": "với"}

    def plain(text: str) -> str:
        text = re.sub(r"([.,;:!?()\"'])", r" \1 ", fix_tone_marks(nfc(text).lower()))
        return " ".join(short.get(w, w) for w in text.split())

    assert [_prepared(t) for t in texts] == [plain(t) for t in texts]


@pytest.mark.parametrize("size", [0, 1, 2, 7, 5000])
def test_counted_keys_equal_numpys_unique(size: int) -> None:
    rng = np.random.default_rng(size)
    keys = np.sort(rng.integers(0, 40, size)) + np.arange(size) // 50 * 100  # runs of ascending keys, as documents
    expected = np.unique(keys, return_counts=True)
    found = _counted(keys.astype(np.int64))
    assert all(np.array_equal(a, b) and a.dtype == b.dtype for a, b in zip(expected, found, strict=True))


def test_segmentation_does_not_depend_on_what_was_segmented_before(texts: list[str]) -> None:
    sample = [normalize(t) for t in texts[::4]] + texts[1::9]
    first = CrfSegmenter.load(None)
    expected = [first.segment(t) for t in sample]
    second = CrfSegmenter.load(None)
    shuffled = list(enumerate(sample))
    random.Random(3).shuffle(shuffled)
    assert {i: second.segment(t) for i, t in shuffled} == dict(enumerate(expected))
    second.clear()
    assert [second.segment(t) for t in reversed(sample)] == expected[::-1]
    assert first.segment(unicodedata.normalize("NFD", "Hà Nội")) == "Hà_Nội"


def test_the_segmenters_word_lists_are_not_visited_by_the_garbage_collector() -> None:
    seg = CrfSegmenter.load(None)
    gc.collect()
    assert not gc.is_tracked(seg.dictionary) and not any(gc.is_tracked(t) for t in seg._texts.values())
    assert not gc.is_tracked(seg._pair_facts)
    assert "hà nội" in seg.dictionary and seg.segment("Hà Nội mưa to") == "Hà_Nội mưa to"


def _plain_window_scores(seg: CrfSegmenter, tokens: list[str]) -> list[tuple[float, ...]]:
    """The scores of the spans that begin at each padded token, each span scored on its own and added place by place
    of the window as the segmenter adds them (one- and two-token spans first, then the three-token span)."""
    padded = ("\x00BOS", "\x00BOS", *tokens, "\x00EOS", "\x00EOS", "\x00EOS", "\x00EOS")
    out = []
    for a, b, c in zip(padded, padded[1:], padded[2:], strict=False):
        one, two, three = seg._span_scores((a,)), seg._span_scores((a, b)), seg._span_scores((a, b, c))
        opening = [x + y for x, y in zip(one, two, strict=False)] + list(one[8:])
        out.append(tuple([x + y for x, y in zip(opening, three, strict=False)] + opening[6:]))
    return out


def test_spans_remembered_by_pairs_score_as_each_span_alone(texts: list[str]) -> None:
    """A pair of tokens that begins no three-token text the model or the dictionary names is scored once for any
    third token; the scores equal those of every span computed alone, on the messages, on texts made of dictionary
    phrases and of the model's three-token texts, in any case, and on tokens the pair shortcut must not take."""
    seg = CrfSegmenter.load(None)
    phrases = [w for w in seg.dictionary if w.count(" ") >= 2][::40] + list(seg._texts[3])[::20]
    rng = random.Random(7)
    made = [" ".join(rng.choice(phrases) for _ in range(3)) for _ in range(400)]
    made += [t.upper() for t in made[::3]] + [t.title() for t in made[1::3]]
    made += ["ΟΔΟΣ ΑΣ σ Σ", "x \x00 y \x00BOS z", "12 3 45 x", "Th S nhà", "İstanbul İ i̇", "a", ""]
    for text in [*texts[::3], *(normalize(t) for t in texts[1::3]), *made]:
        tokens = seg.tokenize(text)
        assert seg._window_scores(tokens) == _plain_window_scores(seg, tokens), text
    assert any(seg._after.values()) and not all(seg._after.values())  # both kinds of pairs were met


def test_openings_are_the_beginnings_up_to_a_second_space_or_later() -> None:
    assert list(_openings(dict.fromkeys(["a b c d", "x y", "p  q", "one"]))) == ["a b ", "a b c ", "p  "]


def test_lowered_words_are_those_normalize_expands() -> None:
    assert lowered_words("Hoà  BÌNH,ko?") == ("hòa", "bình", ",", "ko", "?")
    assert normalize("Hoà  BÌNH,ko?") == "hòa bình , không ?"


def test_remembered_gazetteer_names_equal_their_plain_forms() -> None:
    ex = LocationExtractor()
    records = [r for found in list(ex.old_wards.values())[::5] for r in found]
    assert records
    for r in records:
        assert _short_key(r.old_district) == key(short_name(r.old_district))
        assert _name_key(r.old_ward) == key(r.old_ward)
        assert _accented_name(r.old_ward, True) == accented(short_name(r.old_ward))
    assert all(_accented_name(c.short_name, False) == accented(c.short_name) for c in ex.g.communes[::3])
    assert _accented_name("Phường Phú Yên", True) == "phú yên" != _accented_name("Phù Yên", False)


def test_location_tokens_and_street_words_equal_the_plain_scan(texts: list[str]) -> None:
    def plain_tokens(folded: str) -> list[tuple[str, int, int]]:
        out = []
        for m in re.finditer(r"[a-z0-9]+", folded):
            word = m.group(0)
            split = re.fullmatch(r"(p|q|f|x|h)(\d{1,2})", word)
            if split:
                cut = m.start() + 1  # after the one letter
                out += [(split.group(1), m.start(), cut), (str(int(split.group(2))), cut, m.end())]
            else:
                out.append((str(int(word)) if word.isdigit() else word, m.start(), m.end()))
        return out

    street_texts = ["đường Hậu Giang", "quốc lộ 1 Bình Định", "cầu Long Biên", "ve que Nghe An", "đại lộ"]
    for text in [*texts, *street_texts]:
        folded = fold_chars(text)
        tokens = LocationExtractor._tokens(folded)
        assert tokens == plain_tokens(folded), text
        for i in range(len(tokens) + 1):
            before = tuple(t[0] for t in tokens[:i])
            expected = any(len(w) <= i and before[i - len(w) :] == w for w in STREET_WORDS)
            assert _street_before(tokens, i) == expected, (text, i)
