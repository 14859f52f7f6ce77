"""Word segmentation: underthesea's CRF word segmenter, run here on its own model, with the same output.

``underthesea.word_tokenize`` spends most of its time building ~43 feature strings per token in its featurizer and
handing them to the tagger. The model is a linear-chain CRF over two labels (``B-W`` starts a word, ``I-W``
continues it), so a token's label scores are sums of attribute weights, each attribute depending on one, two or
three tokens of the window -2..+2. :class:`CrfSegmenter` reads the same model files (the CRFsuite model, the
feature templates and the dictionary), sums the weights of each token, token pair and token triple once, adds up
the spans that begin at the same token (cached by the three tokens from there: distinct messages share most of their
words, pairs and triples), so a token's score is five additions, and decodes with Viterbi. Tokenisation is
underthesea's own regular expression. ``tests/nlu/test_cache.py`` checks that the output equals ``word_tokenize`` on
every training and held-out message; a model whose templates are not the known ones is run by underthesea itself.

The compiled weights can be stored (marshal) in a cache directory, keyed by a hash of the model files, so a process
does not parse the 5 MB model at start-up (see :mod:`nlu.cache`).
"""

from __future__ import annotations

import importlib.util
import marshal
import operator
import re
import struct
import unicodedata
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from nlu.cache import cached_build, files_digest

MODEL_PARTS = ("pipeline", "word_tokenize", "models", "ws_crf_vlsp2013_20230727")
MODEL_FILES = ("models.bin", "features.bin", "dictionary.bin")
LABELS = ("B-W", "I-W")
# The feature templates of underthesea's word segmentation model, in its order; the compiled segmenter knows these.
TEMPLATES = (
    "T[-2]", "T[-1]", "T[0]", "T[1]", "T[2]",
    "T[-2,-1]", "T[-1,0]", "T[0,1]", "T[1,2]", "T[-2,0]", "T[-1,1]", "T[0,2]",
    "T[-2].lower", "T[-1].lower", "T[0].lower", "T[1].lower", "T[2].lower",
    "T[-2,-1].lower", "T[-1,0].lower", "T[0,1].lower", "T[1,2].lower",
    "T[-1].isdigit", "T[0].isdigit", "T[1].isdigit",
    "T[-2].istitle", "T[-1].istitle", "T[0].istitle", "T[1].istitle", "T[2].istitle", "T[0,1].istitle",
    "T[0,2].istitle",
    "T[-2].is_in_dict", "T[-1].is_in_dict", "T[0].is_in_dict", "T[1].is_in_dict", "T[2].is_in_dict",
    "T[-2,-1].is_in_dict", "T[-1,0].is_in_dict", "T[0,1].is_in_dict", "T[1,2].is_in_dict",
    "T[-2,0].is_in_dict", "T[-1,1].is_in_dict", "T[0,2].is_in_dict",
)  # fmt: skip
# Which functions each span of the window carries: (first offset, last offset) → functions ("" is the token text).
_SPANS: dict[tuple[int, int], tuple[str, ...]] = {}
for _template in TEMPLATES:
    _span, _, _fn = _template.partition(".")
    _bounds = tuple(int(x) for x in _span[2:-1].split(","))
    _SPANS.setdefault((_bounds[0], _bounds[-1]), ())
    _SPANS[(_bounds[0], _bounds[-1])] += (_fn,)
_FUNCTIONS = ("", "lower", "isdigit", "istitle", "is_in_dict")


def _attributes(span: tuple[int, int]) -> tuple[tuple[str, str], ...]:
    """(function, attribute prefix) of a span: ``("lower", "T[0,1].lower=")``."""
    name = f"T[{span[0]}]" if span[0] == span[1] else f"T[{span[0]},{span[1]}]"
    return tuple((fn, f"{name}.{fn}=" if fn else f"{name}=") for fn in _SPANS.get(span, ()))


# Spans of the window by length (1, 2, 3 tokens), each list from the leftmost span: a span of tokens at window
# position ``start`` plays the offsets (start - 2, start - 2 + length - 1).
_BY_SIZE = {n: [_attributes((start - 2, start - 2 + n - 1)) for start in range(6 - n)] for n in (1, 2, 3)}
_BOS, _EOS = "\x00BOS", "\x00EOS"  # padding tokens (never produced by the tokeniser)
# The functions the spans of each length use (the others are not computed), and the values of a padded span.
_NEEDED = {n: {fn for attributes in spans for fn, _ in attributes} for n, spans in _BY_SIZE.items()}
_LOWER_USED = {n: "lower" in functions for n, functions in _NEEDED.items()}  # no "T[0,2].lower" attribute
_PADDING = {pad: dict.fromkeys(_FUNCTIONS, pad) for pad in ("BOS", "EOS")}
_ABSENT = "\x00"  # a value no attribute has
CACHE_VERSION = 3


class CrfFormatError(ValueError):
    pass


def model_dir() -> Path:
    """underthesea's word segmentation model directory, found without importing underthesea."""
    spec = importlib.util.find_spec("underthesea")
    if spec is None or spec.origin is None:
        raise RuntimeError("the underthesea package is required for word segmentation")
    return Path(spec.origin).parent.joinpath(*MODEL_PARTS)


def _cqdb_strings(data: bytes, offset: int) -> list[str]:
    """The strings of a CRFsuite CQDB block, by id (the block's backward array)."""
    if data[offset : offset + 4] != b"CQDB":
        raise CrfFormatError("not a CQDB block")
    _size, _flag, _order, bwd_size, bwd_offset = struct.unpack_from("<5I", data, offset + 4)
    out = []
    for (rel,) in struct.iter_unpack("<I", data[offset + bwd_offset : offset + bwd_offset + 4 * bwd_size]):
        _id, ksize = struct.unpack_from("<2I", data, offset + rel)
        out.append(data[offset + rel + 8 : offset + rel + 8 + ksize - 1].decode("utf-8"))
    return out


def read_crfsuite(path: Path) -> tuple[list[str], dict[str, list[float]], list[list[float]]]:
    """(labels, attribute → weight per label, transition weights [from][to]) of a CRFsuite model file."""
    data = path.read_bytes()
    if data[:4] != b"lCRF" or data[8:12] != b"FOMC":
        raise CrfFormatError(f"{path} is not a CRFsuite model")
    _nf, n_labels, _na, off_feat, off_labels, off_attrs = struct.unpack_from("<6I", data, 16)
    labels = _cqdb_strings(data, off_labels)
    attrs = _cqdb_strings(data, off_attrs)
    if data[off_feat : off_feat + 4] != b"FEAT" or len(labels) != n_labels:
        raise CrfFormatError(f"{path}: unexpected layout")
    (count,) = struct.unpack_from("<I", data, off_feat + 8)
    weights: dict[str, list[float]] = {}
    trans = [[0.0] * n_labels for _ in range(n_labels)]
    for kind, src, dst, w in struct.iter_unpack("<3id", data[off_feat + 12 : off_feat + 12 + 20 * count]):
        if kind == 0:
            weights.setdefault(attrs[src], [0.0] * n_labels)[dst] += w
        elif kind == 1:
            trans[src][dst] += w
    return labels, weights, trans


def _compile(directory: Path) -> dict[str, Any]:
    """The model as plain data: what the cache stores."""
    import joblib

    templates = [str(t) for t in joblib.load(directory / "features.bin")]
    if tuple(templates) != TEMPLATES:
        raise CrfFormatError("unknown feature templates")
    labels, weights, trans = read_crfsuite(directory / "models.bin")
    if sorted(labels) != sorted(LABELS):
        raise CrfFormatError(f"unknown labels {labels}")
    order = [labels.index(name) for name in LABELS]
    from underthesea.pipeline.text_normalize import text_normalizer
    from underthesea.pipeline.word_tokenize import regex_tokenize

    return {
        "tokenizer": {
            "pattern": regex_tokenize.patterns.pattern,
            "flags": int(regex_tokenize.patterns.flags),
            "character_map": {str(k): str(v) for k, v in text_normalizer.character_map.items()},
            "token_map": {str(k): str(v) for k, v in text_normalizer.token_map.items()},
        },
        "weights": {a: (w[order[0]], w[order[1]]) for a, w in weights.items()},
        "trans": tuple(tuple(trans[i][j] for j in order) for i in order),
        "dictionary": sorted(str(w) for w in joblib.load(directory / "dictionary.bin")),
        "texts": _attribute_texts(weights),
    }


def _attribute_texts(weights: dict[str, Any]) -> dict[int, list[str]]:
    """The values of the text attributes (the tokens, their lower case) by number of tokens of their span."""
    texts: dict[int, set[str]] = {1: set(), 2: set(), 3: set()}
    for attribute in weights:
        name, _, value = attribute.partition("=")
        span, _, fn = name.partition(".")
        if fn in ("", "lower"):
            bounds = [int(x) for x in span[2:-1].split(",")]
            texts[bounds[-1] - bounds[0] + 1].add(value)
    if any(_ABSENT in found for found in texts.values()):
        raise CrfFormatError("an attribute value the segmenter reserves")
    return {size: sorted(found) for size, found in texts.items()}


def _istitle(token: str) -> bool:
    return not token[:1].islower()  # underthesea_core's istitle: the first character is not lower case


def _isdigit(token: str) -> bool:
    return token.isascii() and token.isdigit()


def _summed(head: tuple[float, ...], tail: tuple[float, ...], places: int) -> tuple[float, ...]:
    """``head`` with ``tail`` added to its first ``places`` values, value by value (the same additions, in the same
    order, as the scores' sums the segmenter is checked against)."""
    return tuple(map(operator.add, head[:places], tail[:places])) + head[places:]


class CrfSegmenter:
    """underthesea's word segmentation on its own model files; ``segment`` equals ``word_tokenize(format="text")``."""

    def __init__(self, compiled: dict[str, Any]) -> None:
        self.weights: dict[str, tuple[float, float]] = compiled["weights"]
        self.trans: tuple[tuple[float, float], tuple[float, float]] = compiled["trans"]
        # Sets of words as dictionaries with no values: a dictionary that holds only strings is not tracked by the
        # garbage collector, so its full collections do not visit these ~100,000 words (a set is always visited).
        self.dictionary: dict[str, None] = dict.fromkeys(compiled["dictionary"])
        # the token texts (as they are, or lower case) some attribute of a span of 1, 2, 3 tokens names
        self._texts: dict[int, dict[str, None]] = {size: dict.fromkeys(compiled["texts"][size]) for size in (1, 2, 3)}
        self._by_flags: dict[tuple[int, bool, bool, bool], tuple[float, ...]] = {}
        # (B-W, I-W) scores remembered of each span of tokens (at every place of the window): of one token (by its
        # text); by two tokens, the one- and two-token spans that begin at the first (``_opening``); by three tokens,
        # all the spans that begin at the first (``_starting``)
        self._span_caches: tuple[
            dict[str, tuple[float, ...]],
            dict[tuple[str, ...], tuple[float, ...]],
            dict[tuple[str, ...], tuple[float, ...]],
        ] = ({}, {}, {})
        self._normal: dict[str, str] = {}
        self._chunks: dict[str, list[str]] = {}  # a chunk of text (with its following space) → its tokens
        tok = compiled["tokenizer"]
        self._pattern = re.compile(tok["pattern"], tok["flags"])
        self._character_map: dict[str, str] = tok["character_map"]
        self._token_map: dict[str, str] = tok["token_map"]

    def clear(self) -> None:
        """Forget the remembered scores and tokens (the results do not change)."""
        self._normal.clear()
        self._chunks.clear()
        self._by_flags.clear()
        for cache in self._span_caches:
            cache.clear()

    @classmethod
    def load(cls, cache_dir: Path | None = None) -> CrfSegmenter:
        directory = model_dir()
        if cache_dir is None:
            return cls(_compile(directory))
        digest = files_digest([directory / name for name in MODEL_FILES], extra=f"segment {CACHE_VERSION}")
        compiled = cached_build(
            cache_dir / f"segment-{digest}.marshal",
            build=lambda: _compile(directory),
            dump=marshal.dumps,
            load=marshal.loads,
            valid=lambda c: isinstance(c, dict) and {"weights", "trans", "dictionary", "tokenizer", "texts"} <= set(c),
        )
        return cls(compiled)

    # -- tokens ------------------------------------------------------------------------------------------------
    def _normalize_text(self, text: str) -> str:
        """underthesea's ``normalize_characters_in_text``: NFC, then its character map."""
        text = unicodedata.normalize("NFC", text)
        for bad, good in self._character_map.items():
            text = text.replace(bad, good)
        return text

    def _token_normalize(self, token: str) -> str:
        """underthesea's ``token_normalize``: short tokens through its token map."""
        if len(token) > 6:
            return token
        token = self._normalize_text(token)
        return self._token_map.get(token, token)

    def tokenize(self, text: str) -> list[str]:
        """underthesea's ``regex_tokenize.tokenize`` (its pattern and maps, taken from underthesea when the model
        is compiled), with the tokens of each space-separated chunk remembered.

        No alternative of the pattern matches a space, and the pattern looks beyond a match only at the end of the
        text (``(?!$)``, ``(?=$)``: a chunk followed by a space is read with its space) and at a word boundary or
        "@" before it (a space reads as the start of the text does), so the tokens of the text are those of its
        chunks. The one exception, ``Th.S`` (whose dot matches a space), sends a text holding "Th" to the whole
        pattern."""
        text = self._normalize_text(text)
        if "Th" in text:
            return self._tokens(text)
        chunks = self._chunks
        out: list[str] = []
        last = text.count(" ")
        for n, chunk in enumerate(text.split(" ")):
            key = chunk if n == last else chunk + " "
            found = chunks.get(key)
            if found is None:
                found = self._tokens(key)
                if len(chunks) > 200_000:
                    chunks.clear()
                chunks[key] = found
            out += found
        return out

    def _tokens(self, text: str) -> list[str]:
        out = []
        normal = self._normal
        for m in self._pattern.finditer(text):
            token = m.group(0)  # every alternative of the pattern is one named group spanning the whole match
            found = normal.get(token)
            if found is None:
                found = normal[token] = self._token_normalize(token)
                if len(normal) > 200_000:
                    normal.clear()
            out.append(found)
        return out

    # -- scores ------------------------------------------------------------------------------------------------
    def _span_scores(self, words: tuple[str, ...]) -> tuple[float, ...]:
        """(B-W, I-W) of every span of the window these words can fill, in ``_BY_SIZE`` order, flattened."""
        size = len(words)
        text = words[0] if size == 1 else " ".join(words)
        lower = text.lower()
        texts = self._texts[size]
        # a padding token holds "\x00", which no attribute value holds (a token holding it is scored the long way,
        # with the same result)
        if text in texts or "\x00" in text or (_LOWER_USED[size] and lower in texts):
            return self._all_scores(words, text, lower)
        # Neither the words nor their lower case name any attribute: the scores depend on the yes/no functions only
        in_dict = lower in self.dictionary
        digit = size == 1 and text.isascii() and text.isdigit()  # isdigit is an attribute of single tokens only
        title = True  # _istitle of every word
        for word in words:
            if word[:1].islower():
                title = False
                break
        key = (size, in_dict, digit, title)
        found = self._by_flags.get(key)
        if found is None:
            values = {"": _ABSENT, "lower": _ABSENT, "is_in_dict": str(in_dict), "isdigit": str(digit)}
            found = self._by_flags[key] = self._weigh(size, {**values, "istitle": str(title)})
        return found

    def _all_scores(self, words: tuple[str, ...], text: str, lower: str) -> tuple[float, ...]:
        if _BOS in words:
            return self._weigh(len(words), _PADDING["BOS"])
        if _EOS in words:
            return self._weigh(len(words), _PADDING["EOS"])
        needed = _NEEDED[len(words)]
        values = {"": text, "lower": lower, "is_in_dict": "True" if lower in self.dictionary else "False"}
        values["isdigit"] = "True" if "isdigit" in needed and all(_isdigit(w) for w in words) else "False"
        values["istitle"] = "True" if "istitle" in needed and all(_istitle(w) for w in words) else "False"
        return self._weigh(len(words), values)

    def _weigh(self, size: int, values: dict[str, str]) -> tuple[float, ...]:
        out: list[float] = []
        weights = self.weights
        for attributes in _BY_SIZE[size]:
            b = i = 0.0
            for fn, prefix in attributes:
                w = weights.get(prefix + values[fn])
                if w is not None:
                    b += w[0]
                    i += w[1]
            out += (b, i)
        return tuple(out)

    def _opening(self, pair: tuple[str, str]) -> tuple[float, ...]:
        """The scores of the one- and two-token spans that begin at the first of two tokens, added place by place
        of the window (as ``_starting``, without the three-token span)."""
        singles = self._span_caches[0]
        word = pair[0]
        one = singles.get(word) or singles.setdefault(word, self._span_scores((word,)))
        two = self._span_scores(pair)
        return _summed(one, two, 8)

    def _starting(self, triple: tuple[str, str, str]) -> tuple[float, ...]:
        """The scores of the spans that begin at the first of three tokens (its one-, two- and three-token spans),
        added place by place of the window: (B-W, I-W) of the window places 0 to 4, flattened."""
        pairs = self._span_caches[1]
        pair = triple[:2]
        two = pairs.get(pair) or pairs.setdefault(pair, self._opening(pair))
        three = self._span_scores(triple)
        return _summed(two, three, 6)

    def _state_scores(self, tokens: Sequence[str]) -> list[tuple[float, float]]:
        """The (B-W, I-W) score of each token: the weights of the attributes of its five-token window.

        The spans that begin at a token are scored together, once per three tokens (remembered across messages:
        distinct messages share most of their words and word triples); a token's score adds, for each place of its
        window, the spans that begin there."""
        padded = (_BOS, _BOS, *tokens, _EOS, _EOS, _EOS, _EOS)  # the last two only fill the triples of the end
        starts = self._span_caches[2]
        get, keep, make = starts.get, starts.setdefault, self._starting
        # a triple's scores, or (not seen before) computed and remembered: the scores are never an empty tuple
        found = [get(k) or keep(k, make(k)) for k in zip(padded, padded[1:], padded[2:], strict=False)]
        if len(starts) > 500_000:
            self.clear()
        # token t: its window place k is the place k of the spans that begin at token t + k
        return [
            (g0[0] + g1[2] + g2[4] + g3[6] + g4[8], g0[1] + g1[3] + g2[5] + g3[7] + g4[9])
            for g0, g1, g2, g3, g4 in zip(found, found[1:], found[2:], found[3:], found[4:], strict=False)
        ]

    def tags(self, tokens: Sequence[str]) -> list[int]:
        """Viterbi over the two labels (0 = B-W, 1 = I-W); ties go to the lower label, as in CRFsuite."""
        if not tokens:
            return []
        state = self._state_scores(tokens)
        (bb, bi), (ib, ii) = self.trans
        prev_b, prev_i = state[0]
        back: list[tuple[int, int]] = []
        for sb, si in state[1:]:
            from_b, from_i = prev_b + bb, prev_i + ib
            to_b = (0, from_b) if not from_b < from_i else (1, from_i)
            from_b, from_i = prev_b + bi, prev_i + ii
            to_i = (0, from_b) if not from_b < from_i else (1, from_i)
            back.append((to_b[0], to_i[0]))
            prev_b, prev_i = to_b[1] + sb, to_i[1] + si
        label = 0 if not prev_b < prev_i else 1
        out = [label]
        for step in reversed(back):
            label = step[label]
            out.append(label)
        out.reverse()
        return out

    def segment(self, text: str) -> str:
        tokens = self.tokenize(text)
        words: list[str] = []
        for n, (tag, token) in enumerate(zip(self.tags(tokens), tokens, strict=True)):
            if tag == 1 and n > 0:
                words[-1] = words[-1] + " " + token
            else:
                words.append(token)
        return " ".join(w.replace(" ", "_") for w in words)


class _Underthesea:
    """underthesea's own ``word_tokenize`` (a model this module does not know)."""

    def segment(self, text: str) -> str:
        from underthesea import word_tokenize

        result: str = word_tokenize(text, format="text")
        return result


_segmenter: CrfSegmenter | _Underthesea | None = None


def configure(cache_dir: Path | None) -> None:
    """Load the segmenter now, with its compiled model cached in ``cache_dir`` (the model store's cache)."""
    global _segmenter
    if isinstance(_segmenter, CrfSegmenter):
        return
    try:
        _segmenter = CrfSegmenter.load(cache_dir)
    except (CrfFormatError, OSError, ValueError, ImportError, struct.error):
        _segmenter = _Underthesea()


def _current() -> CrfSegmenter | _Underthesea:
    if _segmenter is None:
        configure(None)
    assert _segmenter is not None
    return _segmenter


def clear_caches() -> None:
    """Forget every remembered segmentation and score (benchmarks measure distinct messages with this)."""
    segment.cache_clear()
    if isinstance(_segmenter, CrfSegmenter):
        _segmenter.clear()


@lru_cache(maxsize=20000)
def segment(text: str) -> str:
    """``"nhà tôi bị ngập"`` → ``"nhà tôi bị ngập"`` with multi-syllable words joined by ``_``."""
    return _current().segment(text)
