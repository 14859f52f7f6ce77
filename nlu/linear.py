"""The trained classifier as plain arrays: TF-IDF features and logistic-regression probabilities without scikit-learn.

Training fits scikit-learn's pipeline (``nlu.features.build_features`` + ``LogisticRegression``);
:meth:`LinearModel.from_pipeline` reads its vocabularies, idf weights, coefficients and intercepts, and
:meth:`LinearModel.probabilities` computes the same numbers as the pipeline's ``predict_proba``: the same n-grams and
tokens (``char_wb`` 2-5 and words 1-2 of the folded text, the segmented words), ``1 + log(count)``, times idf, each
view normalised to unit length, the scores summed feature by feature in column order, then the softmax. The
operations and their order are scikit-learn's, so the probabilities are equal (``tests/nlu/test_linear.py`` checks
them on the training and held-out texts). Parsing then needs numpy only: no scikit-learn import, no per-call input
validation.

The arrays are stored in the model directory (``model.npz``, :func:`save` / :func:`load`), a format that loads in
milliseconds and holds no pickled code.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np

# The feature views this module computes, in column order; a stored model names them and is refused if they differ
# (the features are defined in nlu.features: a change there gives a new name here).
VIEWS = ("chars_wb_2_5", "folded_words_1_2", "segmented_words")
FORMAT = 1
BATCH = 256  # documents scored together (the terms of a batch are one array of non-zero features × classes)
_TOKEN = re.compile(r"(?u)\b\w+\b")  # the word vectorizer's token pattern


class LinearModelError(ValueError):
    pass


def _char_ngrams(folded: str) -> list[str]:
    """The character 2- to 5-grams inside word boundaries (scikit-learn's ``char_wb`` analyzer), as a superset.

    Each word is padded with a space on both sides and the padded words are joined: every n-gram of the result
    either lies inside one padded word (those of the analyzer, as many times) or holds two spaces in a row, which
    no n-gram of the analyzer does, so no vocabulary holds it."""
    text = " " + "  ".join(folded.split()) + " "
    size = len(text)
    out = [text[i : i + 2] for i in range(size - 1)]
    out += [text[i : i + 3] for i in range(size - 2)]
    out += [text[i : i + 4] for i in range(size - 3)]
    out += [text[i : i + 5] for i in range(size - 4)]
    return out


def _counted(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(keys, return_counts=True)`` with less overhead: numpy's default sort of integers (vectorised; a
    stable one is several times slower on these keys, and equal integers need no order among them)."""
    ordered = np.sort(keys)
    first = np.empty(len(ordered), dtype=bool)
    first[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    return ordered[starts], np.diff(starts, append=len(ordered))


class LinearModel:
    """Vocabularies, idf and coefficients of the three views; ``probabilities`` of preprocessed views."""

    def __init__(
        self,
        labels: Sequence[str],
        vocabularies: Sequence[dict[str, int]],
        idf: Sequence[np.ndarray],
        coef: np.ndarray,
        intercept: np.ndarray,
    ) -> None:
        if len(vocabularies) != len(VIEWS) or len(idf) != len(VIEWS):
            raise LinearModelError(f"expected {len(VIEWS)} feature views")
        offsets = [0]
        for vocab, weights in zip(vocabularies, idf, strict=True):
            if len(vocab) != len(weights):
                raise LinearModelError("a vocabulary and its idf differ in length")
            offsets.append(offsets[-1] + len(vocab))
        n_labels = len(labels)
        if coef.shape != (offsets[-1], n_labels if n_labels > 2 else 1) or intercept.shape != (coef.shape[1],):
            raise LinearModelError(f"coefficients of shape {coef.shape} do not fit {offsets[-1]} features")
        self.labels = [str(x) for x in labels]
        self.vocabularies = list(vocabularies)
        self.idf = [np.ascontiguousarray(w, dtype=np.float64) for w in idf]
        self.offsets = offsets[:-1]
        self.coef = np.ascontiguousarray(coef, dtype=np.float64)  # (features, classes): one row per feature
        self.intercept = np.ascontiguousarray(intercept, dtype=np.float64)
        self._word_chars: dict[str, list[int]] = {}  # a folded word → the columns of its character n-grams
        # the vocabularies numbered by column of the whole feature vector, the idf of every column, and where the
        # second and third views begin
        self._global = [
            {k: v + offset for k, v in vocab.items()} if offset else vocab
            for vocab, offset in zip(self.vocabularies, self.offsets, strict=True)
        ]
        self._idf = np.concatenate(self.idf)
        self._bounds = np.array(self.offsets[1:], dtype=np.int64)

    @classmethod
    def from_pipeline(cls, pipeline: Any) -> LinearModel:
        """The arrays of a fitted ``Pipeline([("features", FeatureUnion), ("model", LogisticRegression)])``."""
        union = pipeline.named_steps["features"]
        model = pipeline.named_steps["model"]
        vectorizers = [v for _, v in union.transformer_list]
        vocabularies = [{str(k): int(i) for k, i in v.vocabulary_.items()} for v in vectorizers]
        return cls(
            [str(c) for c in model.classes_],
            vocabularies,
            [np.asarray(v.idf_, dtype=np.float64) for v in vectorizers],
            np.asarray(model.coef_, dtype=np.float64).T,
            np.asarray(model.intercept_, dtype=np.float64),
        )

    # -- features ----------------------------------------------------------------------------------------------
    def _chars_of(self, word: str) -> list[int]:
        """The columns of the character n-grams of a folded word, remembered."""
        known = self._word_chars
        found = [j for g in _char_ngrams(word) if (j := self._global[0].get(g)) is not None]
        if len(known) > 200_000:
            known.clear()
        known[word] = found
        return found

    def _columns(self, doc: str) -> list[int]:
        """The columns of every feature of a document, once per occurrence (any order)."""
        folded, _, segmented = doc.partition("\t")
        _, words, segmented_words = self._global
        split = folded.split()
        found = list(map(self._word_chars.get, split))  # a word's character n-grams are always the same
        if not all(found):  # a word not seen before (or one without known n-grams)
            found = [self._chars_of(word) if f is None else f for word, f in zip(split, found, strict=True)]
        hits = list(itertools.chain.from_iterable(cast("list[list[int]]", found)))
        tokens = _TOKEN.findall(folded)
        hits += [j for t in tokens if (j := words.get(t)) is not None]
        hits += [j for a, b in itertools.pairwise(tokens) if (j := words.get(a + " " + b)) is not None]
        hits += [j for t in segmented.split() if (j := segmented_words.get(t)) is not None]
        return hits

    def features(self, docs: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(document, column, weight) of every non-zero feature, by document then column: the TF-IDF rows."""
        found = [self._columns(doc) for doc in docs]
        n_features = self.coef.shape[0]
        keys = np.repeat(np.arange(len(docs), dtype=np.int64) * n_features, [len(f) for f in found])
        keys += np.fromiter(itertools.chain.from_iterable(found), dtype=np.int64, count=len(keys))
        keys, counts = _counted(keys)  # sorted: by document, then column
        rows, columns = np.divmod(keys, n_features)
        weights = counts.astype(np.float64)
        np.log(weights, weights)
        weights += 1.0
        weights *= self._idf[columns]
        # each view of each document normalised to unit length, its squares summed in order as scikit-learn does
        # (a cumulative sum is sequential; a plain sum of numpy is pairwise)
        part = rows * len(VIEWS) + np.searchsorted(self._bounds, columns, side="right")
        starts = np.flatnonzero(np.r_[True, part[1:] != part[:-1]]).tolist() if len(part) else []
        ends = [*starts[1:], len(part)] if starts else []
        squares = weights * weights
        norms = np.array([squares[a:b].cumsum()[-1] for a, b in zip(starts, ends, strict=True)], dtype=np.float64)
        np.sqrt(norms, norms)
        norms[norms == 0.0] = 1.0
        weights /= np.repeat(norms, np.array(ends, dtype=np.intp) - np.array(starts, dtype=np.intp))
        return rows, columns, weights

    def decision_function(self, docs: Sequence[str]) -> np.ndarray:
        """The class scores (documents × classes; one column for a two-class model)."""
        if len(docs) > BATCH:
            return np.concatenate([self.decision_function(docs[i : i + BATCH]) for i in range(0, len(docs), BATCH)])
        rows, columns, weights = self.features(docs)
        scores = np.zeros((len(docs), self.coef.shape[1]))
        terms = self.coef[columns]
        terms *= weights[:, None]
        # each document's terms added one after the other in column order (a sparse row times the matrix):
        # a sum over the first axis of a row-major array adds row after row
        bounds = np.searchsorted(rows, np.arange(len(docs) + 1)).tolist()
        for i in range(len(docs)):
            if bounds[i + 1] > bounds[i]:
                terms[bounds[i] : bounds[i + 1]].sum(axis=0, out=scores[i])
        scores += self.intercept
        return scores

    def probabilities(self, docs: Sequence[str]) -> np.ndarray:
        """Class probabilities (documents × classes, classes in ``labels`` order), as ``predict_proba``."""
        scores = self.decision_function(docs)
        if scores.shape[1] == 1:  # two classes: the logistic function of the one score
            positive = 1.0 / (1.0 + np.exp(-scores[:, 0]))
            return np.stack([1 - positive, positive], axis=1)
        scores -= scores.max(axis=1).reshape((-1, 1))
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=1).reshape((-1, 1))
        return scores


def _joined(items: Sequence[str]) -> np.ndarray:
    for item in items:
        if "\n" in item:
            raise LinearModelError(f"a feature or label contains a line break: {item!r}")
    return np.frombuffer("\n".join(items).encode("utf-8"), dtype=np.uint8)


def _split(blob: np.ndarray) -> list[str]:
    text = blob.tobytes().decode("utf-8")
    return text.split("\n") if text else []


def save(model: LinearModel, path: Path) -> None:
    arrays: dict[str, np.ndarray] = {
        "format": np.array(FORMAT),
        "views": _joined(VIEWS),
        "labels": _joined(model.labels),
        "coef": model.coef,
        "intercept": model.intercept,
    }
    for name, vocab, idf in zip(VIEWS, model.vocabularies, model.idf, strict=True):
        ordered = sorted(vocab, key=vocab.__getitem__)
        if [vocab[k] for k in ordered] != list(range(len(ordered))):
            raise LinearModelError(f"the {name} vocabulary is not numbered 0..n-1")
        arrays[f"vocab_{name}"] = _joined(ordered)
        arrays[f"idf_{name}"] = idf
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)  # type: ignore[arg-type]


def load(path: Path) -> LinearModel:
    """The model stored at ``path``; :class:`LinearModelError` when it is of another format or inconsistent."""
    with np.load(path, allow_pickle=False) as data:
        try:
            found = int(data["format"])
            views = tuple(_split(data["views"]))
            if found != FORMAT or views != VIEWS:
                raise LinearModelError(f"model format {found} {views}, this gopy reads format {FORMAT} {VIEWS}")
            vocabularies = []
            for name in VIEWS:
                words = _split(data[f"vocab_{name}"])
                vocabularies.append(dict(zip(words, range(len(words)), strict=True)))
            return LinearModel(
                _split(data["labels"]),
                vocabularies,
                [data[f"idf_{name}"] for name in VIEWS],
                data["coef"],
                data["intercept"],
            )
        except KeyError as exc:
            raise LinearModelError(f"incomplete model file: {exc}") from exc
