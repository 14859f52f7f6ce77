"""The derived data kept in the model store's cache: the location index and the compiled word segmenter.

Built once and reused; rebuilt when what they are built from changes; a corrupt or unreadable file is rebuilt and
the process carries on; a store that cannot be written only starts slower. The compiled segmenter answers exactly
as underthesea's ``word_tokenize``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import nlu.location as location_module
from nlu import cache as cache_module
from nlu.cli import DEFAULT_DATA
from nlu.location import LocationExtractor
from nlu.normalize import normalize
from nlu.rasa_data import load_examples
from nlu.segment import CrfSegmenter

ROOT = Path(__file__).resolve().parents[2]
PLACES = [
    "phường Bến Nghé, quận 1, TP HCM",
    "rác thải ở xã Tân Phú",
    "Đường ở phường Dịch Vọng, Cầu Giấy bị ngập",
    "xóm 8 Nghi Kim, TP Vinh",
]


def _answers(ex: LocationExtractor) -> list[str]:
    return [repr(ex.extract(t)) for t in PLACES]


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the index builds (``LocationExtractor.__init__`` runs only when the cache is not used)."""
    count: list[int] = []
    real = LocationExtractor.__init__

    def counting(self: LocationExtractor, *args: object, **kwargs: object) -> None:
        count.append(1)
        real(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(LocationExtractor, "__init__", counting)
    return count


REFERENCE = _answers(LocationExtractor())


def test_the_index_is_built_once_then_read_from_the_cache(tmp_path: Path, builds: list[int]) -> None:
    first = LocationExtractor.cached(tmp_path)
    files = list(tmp_path.glob("locations-*.pickle"))
    assert len(builds) == 1 and len(files) == 1
    second = LocationExtractor.cached(tmp_path)
    assert len(builds) == 1  # read, not built
    assert _answers(first) == _answers(second) == REFERENCE


def test_a_change_of_the_data_rebuilds_the_index(
    tmp_path: Path, builds: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "mapping.json"
    data.write_text('{"version": 1}', encoding="utf-8")
    real_sources = location_module.index_sources
    monkeypatch.setattr(location_module, "index_sources", lambda: [*real_sources(), data])
    cache = tmp_path / "cache"
    LocationExtractor.cached(cache)
    LocationExtractor.cached(cache)
    assert len(builds) == 1
    before = {p.name for p in cache.glob("locations-*")}
    data.write_text('{"version": 2}', encoding="utf-8")
    rebuilt = LocationExtractor.cached(cache)
    assert len(builds) == 2
    after = {p.name for p in cache.glob("locations-*")}
    assert after != before and len(after) <= cache_module.KEEP  # a new file; the old ones are pruned
    assert _answers(rebuilt) == REFERENCE


@pytest.mark.parametrize("garbage", [b"", b"not a pickle", b"\x80\x05K\x01."])  # empty, junk, a valid pickle of 1
def test_a_corrupt_index_file_is_rebuilt(tmp_path: Path, builds: list[int], garbage: bytes) -> None:
    LocationExtractor.cached(tmp_path)
    (path,) = tmp_path.glob("locations-*.pickle")
    path.write_bytes(garbage)
    ex = LocationExtractor.cached(tmp_path)
    assert len(builds) == 2 and _answers(ex) == REFERENCE
    LocationExtractor.cached(tmp_path)  # the rebuilt file is good again
    assert len(builds) == 2


def test_a_cache_that_cannot_be_written_only_costs_time(tmp_path: Path, builds: list[int]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache directory should be", encoding="utf-8")
    ex = LocationExtractor.cached(blocker / "cache")
    assert _answers(ex) == REFERENCE and len(builds) == 1


def _texts() -> list[str]:
    examples = load_examples([ROOT / p for p in DEFAULT_DATA] + [ROOT / "data" / "nlu" / "test"])
    return [e.text for e in examples]


def test_the_compiled_segmenter_equals_underthesea() -> None:
    """Every training and held-out message, as written and normalised as the classifier sees it."""
    from underthesea import word_tokenize

    texts = _texts()
    texts = [*texts, *(normalize(t) for t in texts), "", "   ", "Ông A. B. Nguyễn, 12/3/2024 lúc 8h30 — 0912 345 678!"]
    seg = CrfSegmenter.load(None)
    wrong = [t for t in texts if seg.segment(t) != word_tokenize(t, format="text")]
    assert wrong == []


def test_tokens_read_chunk_by_chunk_equal_the_whole_pattern_s() -> None:
    """The tokeniser remembers the tokens of each space-separated chunk; on texts made of the characters the
    pattern treats specially (ends of text, dots, "@", emoticons, abbreviations, URLs) they are those of the pattern
    run over the whole text."""
    import random

    seg = CrfSegmenter.load(None)
    pieces = [*"  \n\t.,:;)(@-/=>xD3TAhsS5'’°Cđưaé_+%<", "Th", "TP", "v.v", "http://", ".com", "e-mail", "NĐ-CP", ":D"]
    pieces += [":)", "♥‿♥", "12", "ABC", "Th S", "TP. HCM", "a@b.vn", "gmail.com "]
    rng = random.Random(16)
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 24))) for _ in range(20_000)]
    texts += _texts()[:500]
    wrong = [t for t in texts if seg.tokenize(t) != seg._tokens(seg._normalize_text(t))]
    assert wrong == []
    text = "TP. HCM và v.v. :D"
    first = seg.tokenize(text)
    assert seg.tokenize(text) == first == seg._tokens(text) == ["TP.", "HCM", "và", "v.v.", ":D"]  # then remembered


def test_the_compiled_segmenter_is_cached_and_survives_a_corrupt_file(tmp_path: Path) -> None:
    text = "nhà tôi ở phường Dịch Vọng bị ngập nước mấy ngày nay"
    expected = CrfSegmenter.load(None).segment(text)
    assert CrfSegmenter.load(tmp_path).segment(text) == expected
    (path,) = tmp_path.glob("segment-*.marshal")
    stamp = path.stat().st_mtime_ns
    assert CrfSegmenter.load(tmp_path).segment(text) == expected
    assert path.stat().st_mtime_ns == stamp  # read, not rewritten
    path.write_bytes(b"\x00garbage")
    assert CrfSegmenter.load(tmp_path).segment(text) == expected
    assert path.read_bytes() != b"\x00garbage"  # rebuilt
