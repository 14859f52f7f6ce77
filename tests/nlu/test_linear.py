"""The classifier's arrays (nlu.linear) give exactly scikit-learn's features, scores and probabilities."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nlu import linear
from nlu.classifier import IntentClassifier
from nlu.features import views
from nlu.rasa_data import load_examples
from nlu.training_data import training_paths
from tests.nlu.realworld import TEAM_HELDOUT, load_items

ROOT = Path(__file__).resolve().parents[2]
ODD = ["", "   ", "?!", "a", "xyzzy qwrtp", "12/3/2024 10h30", "Ủy ban nhân dân xã Tân Phú\ttab", "ò " * 300]


@pytest.fixture(scope="module")
def trained() -> tuple[IntentClassifier, list[str]]:
    """A model on every other training example (quicker), and texts it has and has not seen."""
    examples = load_examples(training_paths(ROOT / "data"))
    half = examples[::2]
    classifier = IntentClassifier().fit([e.text for e in half], [e.label for e in half])
    texts = [e.text for e in examples] + [e.text for e in load_examples([TEAM_HELDOUT])]
    return classifier, texts + [it.text for it in load_items()] + ODD


def test_features_equal_scikit_learns(trained: tuple[IntentClassifier, list[str]]) -> None:
    classifier, texts = trained
    assert classifier.model is not None
    docs = [views(t) for t in texts[:600]] + [views(t) for t in ODD]
    expected = classifier.pipeline.named_steps["features"].transform(docs).tocsr()
    expected.sort_indices()
    rows, columns, weights = classifier.model.features(docs)
    assert np.array_equal(rows, np.repeat(np.arange(len(docs)), np.diff(expected.indptr)))
    assert np.array_equal(columns, expected.indices)
    assert np.array_equal(weights, expected.data)


def test_scores_and_probabilities_equal_scikit_learns(trained: tuple[IntentClassifier, list[str]]) -> None:
    classifier, texts = trained
    assert classifier.model is not None
    docs = [views(t) for t in texts]
    assert len(docs) > 3 * linear.BATCH  # several batches
    assert np.array_equal(classifier.model.decision_function(docs), classifier.pipeline.decision_function(docs))
    expected = classifier.pipeline.predict_proba(docs)
    assert np.array_equal(classifier.model.probabilities(docs), expected)
    assert np.array_equal(classifier.probabilities(texts), expected)
    one_by_one = np.vstack([classifier.model.probabilities([d]) for d in docs[:200]])  # the same alone as in a batch
    assert np.array_equal(one_by_one, expected[:200])
    assert classifier.labels == [str(c) for c in classifier.pipeline.classes_]
    nothing = [views(t) for t in ("", "😀", "\x00")]  # no known feature at all: the intercepts alone
    assert np.array_equal(classifier.model.probabilities(nothing), classifier.pipeline.predict_proba(nothing))


def test_saved_and_loaded_arrays_answer_the_same(trained: tuple[IntentClassifier, list[str]], tmp_path: Path) -> None:
    classifier, texts = trained
    assert classifier.model is not None
    linear.save(classifier.model, tmp_path / "model.npz")
    loaded = linear.load(tmp_path / "model.npz")
    assert loaded.labels == classifier.labels
    assert np.array_equal(loaded.probabilities([views(t) for t in texts[:300]]), classifier.probabilities(texts[:300]))


def test_a_two_label_model_gives_scikit_learns_probabilities() -> None:
    texts = ["xin chào", "chào bạn", "cảm ơn nhiều", "cám ơn bạn", "chào buổi sáng", "cảm ơn cán bộ"]
    labels = ["chao_hoi", "chao_hoi", "cam_on", "cam_on", "chao_hoi", "cam_on"]
    classifier = IntentClassifier().fit(texts, labels)
    assert classifier.model is not None
    docs = [views(t) for t in [*texts, "chào và cảm ơn", ""]]
    np.testing.assert_allclose(
        classifier.model.probabilities(docs), classifier.pipeline.predict_proba(docs), rtol=1e-12, atol=1e-15
    )
    assert [p.intent for p in classifier.predict_many(texts)] == labels


def test_a_vocabulary_entry_with_a_line_break_is_refused(tmp_path: Path) -> None:
    model = linear.LinearModel(
        ["a", "b", "c"],
        [{"x\ny": 0}, {}, {}],
        [np.ones(1), np.ones(0), np.ones(0)],
        np.zeros((1, 3)),
        np.zeros(3),
    )
    with pytest.raises(linear.LinearModelError, match="line break"):
        linear.save(model, tmp_path / "model.npz")
    with pytest.raises(linear.LinearModelError, match="do not fit"):
        linear.LinearModel(
            ["a", "b", "c"], [{"x": 0}, {}, {}], [np.ones(1), np.ones(0), np.ones(0)], np.zeros((2, 3)), np.zeros(3)
        )
