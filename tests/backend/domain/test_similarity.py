"""Near-duplicate detection folds diacritics with the shared vocabulary's ``fold``."""

from __future__ import annotations

from backend.domain.similarity import cosine, features


def test_the_same_report_with_or_without_diacritics_is_the_same() -> None:
    a, b = features("Đường Hàng Bài ngập!"), features("duong hang bai  NGAP")
    assert a == b and abs(cosine(a, b) - 1.0) < 1e-9


def test_different_reports_are_apart() -> None:
    assert cosine(features("rác thải bốc mùi ở chợ"), features("đèn đường hỏng cả tháng")) == 0.0
    assert cosine(features(""), features("rác")) == 0.0
