"""Feature views of a message: diacritic-free characters and words, and segmented words with diacritics.

``build_features`` is the scikit-learn feature union training fits; ``nlu.linear`` computes the same features from
its arrays (a change here needs a new ``nlu.linear.VIEWS`` name and the same change there).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nlu.normalize import normalize
from nlu.segment import segment
from nlu.vocab import strip_diacritics

if TYPE_CHECKING:  # scikit-learn loads for training only
    from sklearn.pipeline import FeatureUnion


def views(text: str) -> str:
    """One preprocessed string per message; the vectorizers pick their parts by a separator."""
    norm = normalize(text)
    return f"{strip_diacritics(norm)}\t{segment(norm)}"


def _folded(doc: str) -> str:
    return doc.split("\t", 1)[0]


def _segmented(doc: str) -> str:
    return doc.split("\t", 1)[1]


def _words(doc: str) -> list[str]:
    return _segmented(doc).split()


def build_features() -> FeatureUnion:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion

    return FeatureUnion(
        [
            (
                "chars",
                TfidfVectorizer(
                    preprocessor=_folded,
                    analyzer="char_wb",
                    ngram_range=(2, 5),
                    sublinear_tf=True,
                    min_df=1,
                    max_features=150000,
                ),
            ),
            (
                "folded_words",
                TfidfVectorizer(
                    preprocessor=_folded, ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"(?u)\b\w+\b"
                ),
            ),
            ("segmented_words", TfidfVectorizer(analyzer=_words, sublinear_tf=True)),
        ]
    )
