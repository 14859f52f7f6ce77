"""Places in citizens' words → the new (post-2025) units, with or without diacritics, old addresses included."""

from __future__ import annotations

import pytest

from nlu.gazetteer import load_gazetteer
from nlu.location import LocationExtractor

EX = LocationExtractor()


def test_gazetteer_has_the_whole_country() -> None:
    g = load_gazetteer()
    assert len(g.provinces) == 34 and len(g.communes) == 3321


@pytest.mark.parametrize(
    ("text", "province", "commune", "old"),
    [
        ("Đường ở phường Hoàn Kiếm, Hà Nội bị ngập", "01", "00070", False),
        ("duong o phuong hoan kiem ha noi bi ngap", "01", "00070", False),
        ("phường Bến Nghé, quận 1, TP HCM", "79", "26740", True),  # old ward → Phường Sài Gòn
        ("p. Ben Nghe q1 tphcm", "79", "26740", True),
        ("o quan 3 tp hcm", "79", None, True),  # an old district narrows to the province only
        ("Cống tắc ở Hà Nội", "01", None, False),
    ],
)
def test_places(text: str, province: str | None, commune: str | None, old: bool) -> None:
    m = EX.extract(text)
    assert m is not None
    assert (m.province.code if m.province else None) == province
    assert (m.commune.code if m.commune else None) == commune
    assert m.via_old_address is old


def test_an_ambiguous_commune_gives_candidates_not_a_guess() -> None:
    m = EX.extract("rác thải ở xã Tân Phú")
    assert m is not None and m.commune is None and len(m.candidates) > 1
    assert len({c.parent_code for c in m.candidates}) > 1


def test_the_province_resolves_the_ambiguity() -> None:
    m = EX.extract("xã Tân Phú, Đồng Nai")
    assert m is not None and m.province is not None and m.province.code == "75"
    assert m.commune is not None or all(c.parent_code == "75" for c in m.candidates)


@pytest.mark.parametrize("text", ["", "xin chào", "tôi muốn hỏi về bảo hiểm", "12345", "!!!"])
def test_no_place_no_match(text: str) -> None:
    assert EX.extract(text) is None
