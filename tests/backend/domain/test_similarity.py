"""Near-duplicate detection folds diacritics with the shared vocabulary's ``fold``."""

from __future__ import annotations

from backend.domain.similarity import DUPLICATE_THRESHOLD, cosine, features, place_names, similarity


def test_the_same_report_with_or_without_diacritics_is_the_same() -> None:
    a, b = features("Đường Hàng Bài ngập!"), features("duong hang bai  NGAP")
    assert a == b and abs(cosine(a, b) - 1.0) < 1e-9


def test_different_reports_are_apart() -> None:
    assert cosine(features("rác thải bốc mùi ở chợ"), features("đèn đường hỏng cả tháng")) == 0.0
    assert cosine(features(""), features("rác")) == 0.0


def test_the_same_words_about_another_street_are_another_matter() -> None:
    a = "Đèn đường ở phố Hàng Bài hỏng cả tuần nay"
    assert similarity(a, "den duong o pho hang bai hong ca tuan nay, de nghi sua") >= DUPLICATE_THRESHOLD
    assert similarity(a, "Đèn đường ở phố Lê Lợi hỏng cả tuần nay") < DUPLICATE_THRESHOLD
    assert place_names("Rác ở ngõ 12 Kim Mã") == {"kim ma"}  # numbers left out
    assert place_names("Con đường này ngập, nhà tôi bị nước vào") == set()  # "đường" alone names nothing


def test_the_calibrated_threshold_meets_the_precision_target_on_the_labelled_pairs() -> None:
    from tests.bench.bench_duplicates import TARGET_PRECISION, load_pairs, precision_recall

    pairs = load_pairs()
    assert len(pairs) >= 150 and {same for *_t, same in pairs} == {True, False}
    precision, recall = precision_recall([(similarity(a, b), s) for a, b, s in pairs], DUPLICATE_THRESHOLD)
    assert precision >= TARGET_PRECISION and recall >= 0.8
