"""Word segmentation: underthesea's CRF word segmenter, run here on its own model, with the same output.

``underthesea.word_tokenize`` spends most of its time building ~43 feature strings per token in its featurizer and
handing them to the tagger. The model is a linear-chain CRF over two labels (``B-W`` starts a word, ``I-W``
continues it), so a token's label scores are sums of attribute weights, each attribute depending on one, two or
three tokens of the window -2..+2. :class:`CrfSegmenter` reads the same model files (the CRFsuite model, the
feature templates and the dictionary), sums the weights of each token, token pair and token triple once, adds up
the spans that begin at the same token, so a token's score is five additions, and decodes with Viterbi. The sums are
cached by the two tokens from there when no three-token text they begin is named by the model or the dictionary (a
three-token span then scores by its yes/no functions alone: most pairs), else by the three tokens; distinct messages
share most of their words and pairs, and one look-up tells all that is known of a new pair. Tokenisation is
underthesea's own regular expression. ``tests/nlu/test_cache.py`` checks that the output equals ``word_tokenize`` on
every training and held-out message; a model whose templates are not the known ones is run by underthesea itself.

The compiled weights can be stored (marshal) in a cache directory, keyed by a hash of the model files, so a process
does not parse the 5 MB model at start-up (see :mod:`nlu.cache`).
"""

from __future__ import annotations

import importlib.util
import itertools
import marshal
import re
import struct
import unicodedata
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, cast

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


def _openings(phrases: dict[str, None]) -> dict[str, None]:
    """Every beginning of these phrases that ends with their second space or a later one."""
    out: dict[str, None] = {}
    for phrase in phrases:
        end = phrase.find(" ", phrase.find(" ") + 1)
        while end >= 0:
            out[phrase[: end + 1]] = None
            end = phrase.find(" ", end + 1)
    return out


# The facts of ``_pair_facts``: the text (before its last space) some two-token attribute names, is a dictionary word;
# the text begins a three-token text some attribute names, begins a dictionary word of two spaces or more.
_NAMED, _WORD, _OPENS_NAMED, _OPENS_WORD = 1, 2, 4, 8


def _pair_facts(texts: dict[str, None], dictionary: dict[str, None], third_texts: dict[str, None]) -> dict[str, int]:
    """The facts (bits) of every text of words followed by a space that has some; a text of two tokens has at least
    one space, and lower-casing keeps the spaces, so dictionary words without one are left out."""
    facts: dict[str, int] = {}
    marked = (
        ((text + " " for text in texts), _NAMED),
        ((word + " " for word in dictionary if " " in word), _WORD),
        (_openings(third_texts), _OPENS_NAMED),
        (_openings(dictionary), _OPENS_WORD),
    )
    for keys, bit in marked:
        for key in keys:
            facts[key] = facts.get(key, 0) | bit
    return facts


def _with_three(two: tuple[float, ...], three: tuple[float, ...]) -> tuple[float, ...]:
    """The spans that begin at a token: ``two`` (its one- and two-token spans, added place by place of the window)
    with its three-token span's scores added at the window places 0 to 2."""
    t0, t1, t2, t3, t4, t5, t6, t7, t8, t9 = two
    h0, h1, h2, h3, h4, h5 = three
    return (t0 + h0, t1 + h1, t2 + h2, t3 + h3, t4 + h4, t5 + h5, t6, t7, t8, t9)


def _flag_values(in_dict: bool, digit: bool, title: bool) -> dict[str, str]:
    """The attribute values of a span whose text names no attribute (``_ABSENT``), by its yes/no functions."""
    return {"": _ABSENT, "lower": _ABSENT, "is_in_dict": str(in_dict), "isdigit": str(digit), "istitle": str(title)}


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
        # the scores of a span of 1, 2, 3 tokens whose text (and lower case) no attribute names, by (in the
        # dictionary, all digits, every token title-like): they depend on these yes/no functions only
        self._by_flags: tuple[dict[tuple[bool, ...], tuple[float, ...]], ...] = tuple(
            {flags: self._weigh(size, _flag_values(*flags)) for flags in itertools.product((False, True), repeat=3)}
            for size in (1, 2, 3)
        )
        # the scores of a span that holds a padding token (its functions all read "BOS" or "EOS")
        self._padded = {
            (pad, size): self._weigh(size, values) for pad, values in _PADDING.items() for size in (1, 2, 3)
        }
        # what the text of two tokens, with a space after it, is known as (``_pair_facts``): one look-up a pair
        self._pair_facts = _pair_facts(self._texts[2], self.dictionary, self._texts[3])
        # (B-W, I-W) scores remembered of each span of tokens (at every place of the window): of one token (by its
        # text); by two tokens, the one- and two-token spans that begin at the first (of the pairs ``_after_pair``
        # leaves to ``_starting``); by three tokens, all the spans that begin at the first (``_starting``); and by two
        # tokens, those of any third (``_after_pair``)
        self._span_caches: tuple[
            dict[str, tuple[float, ...]],
            dict[tuple[str, ...], tuple[float, ...]],
            dict[tuple[str, ...], tuple[float, ...]],
        ] = ({}, {}, {})
        self._after: dict[tuple[str, str], tuple[tuple[float, ...], ...]] = {}
        self._normal: dict[str, str] = {}
        # a chunk of text followed by a space (by the chunk without it), the last chunk of a text → its tokens
        self._chunks: dict[str, list[str]] = {}
        self._last_chunks: dict[str, list[str]] = {}
        tok = compiled["tokenizer"]
        self._pattern = re.compile(tok["pattern"], tok["flags"])
        self._character_map: dict[str, str] = tok["character_map"]
        self._token_map: dict[str, str] = tok["token_map"]

    def clear(self) -> None:
        """Forget the remembered scores and tokens (the results do not change)."""
        self._normal.clear()
        self._chunks.clear()
        self._last_chunks.clear()
        for cache in self._span_caches:
            cache.clear()
        self._after.clear()

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
        *chunks, last = text.split(" ")
        found = list(map(self._chunks.get, chunks))  # by the chunk before its space
        if not all(found):  # a chunk not seen before (or one without tokens)
            found = [
                self._remember(self._chunks, c, c + " ") if f is None else f for c, f in zip(chunks, found, strict=True)
            ]
        end = self._last_chunks.get(last)
        if end is None:
            end = self._remember(self._last_chunks, last, last)
        return [token for tokens in cast("list[list[str]]", found) for token in tokens] + end

    def _remember(self, chunks: dict[str, list[str]], chunk: str, text: str) -> list[str]:
        """The tokens of ``text``, remembered in ``chunks`` by ``chunk``."""
        found = self._tokens(text)
        if len(chunks) > 200_000:
            chunks.clear()
        chunks[chunk] = found
        return found

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
        digit = size == 1 and text.isascii() and text.isdigit()  # isdigit is an attribute of single tokens only
        title = not any(word[:1].islower() for word in words)  # _istitle of every word
        return self._by_flags[size - 1][(lower in self.dictionary, digit, title)]

    def _all_scores(self, words: tuple[str, ...], text: str, lower: str) -> tuple[float, ...]:
        if _BOS in words:
            return self._padded[("BOS", len(words))]
        if _EOS in words:
            return self._padded[("EOS", len(words))]
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

    def _opening(self, a: str, b: str, head: str, lower: str, facts: int, lower_facts: int) -> tuple[float, ...]:
        """The scores of the one- and two-token spans that begin at ``a``, added place by place of the window (as
        ``_starting``, without the three-token span): ``head`` is ``"a b "``, ``lower`` its lower case, with their
        ``_pair_facts``. The pair's scores are ``_span_scores``, inlined."""
        singles = self._span_caches[0]
        one = singles.get(a) or singles.setdefault(a, self._span_scores((a,)))
        if (facts | lower_facts) & _NAMED or "\x00" in head:
            pair = self._all_scores((a, b), head[:-1], lower[:-1])
        else:
            title = not (a[:1].islower() or b[:1].islower())
            pair = self._by_flags[1][(bool(lower_facts & _WORD), False, title)]
        o0, o1, o2, o3, o4, o5, o6, o7, o8, o9 = one
        t0, t1, t2, t3, t4, t5, t6, t7 = pair
        return (o0 + t0, o1 + t1, o2 + t2, o3 + t3, o4 + t4, o5 + t5, o6 + t6, o7 + t7, o8, o9)

    def _starting(self, triple: tuple[str, str, str]) -> tuple[float, ...]:
        """The scores of the spans that begin at the first of three tokens (its one-, two- and three-token spans),
        added place by place of the window: (B-W, I-W) of the window places 0 to 4, flattened. The three-token
        span is ``_span_scores`` inlined (no lower-case attribute at that length: only its text is looked up)."""
        a, b, c = triple
        two = self._span_caches[1].get((a, b))  # remembered by ``_after_pair`` when it leaves the pair to this
        if two is None:  # a pair before the end padding
            head = f"{a} {b} "
            lower = head.lower()
            two = self._opening(a, b, head, lower, self._pair_facts.get(head, 0), self._pair_facts.get(lower, 0))
        text = f"{a} {b} {c}"
        if text in self._texts[3] or "\x00" in text:
            three = self._all_scores(triple, text, text.lower())
        else:
            title = not (a[:1].islower() or b[:1].islower() or c[:1].islower())
            three = self._by_flags[2][(text.lower() in self.dictionary, False, title)]
        return _with_three(two, three)

    def _after_pair(self, a: str, b: str) -> tuple[tuple[float, ...], ...]:
        """``_starting`` of the triples that begin with ``a, b``, for any third token but the end padding, when no
        three-token text beginning with ``"a b "`` is an attribute value or (in lower case) a dictionary word: the
        three-token span then has the scores of its yes/no functions, and only the title function depends on the
        third token. Indexed by whether the third token begins with a lower-case letter; empty otherwise (and the
        one- and two-token spans that begin at ``a`` are then remembered for ``_starting``).

        ``"a b "`` ends with a space, so it begins every such text as written, and its lower case begins the text's
        lower case (lower-casing maps character by character, but for a final sigma, which looks no further than a
        space)."""
        head = f"{a} {b} "
        lower = head.lower()
        facts = self._pair_facts.get(head, 0)
        lower_facts = facts if lower == head else self._pair_facts.get(lower, 0)
        two = self._opening(a, b, head, lower, facts, lower_facts)
        if "\x00" in head or facts & _OPENS_NAMED or lower_facts & _OPENS_WORD:
            self._span_caches[1][(a, b)] = two  # for ``_starting``
            return ()
        lower_third = _with_three(two, self._by_flags[2][(False, False, False)])
        if a[:1].islower() or b[:1].islower():
            return lower_third, lower_third  # not title-like whatever the third token
        return _with_three(two, self._by_flags[2][(False, False, True)]), lower_third

    def _window_scores(self, tokens: Sequence[str]) -> list[tuple[float, ...]]:
        """The scores of the spans that begin at each token of the padded tokens (``_starting``), remembered across
        messages: by the two tokens from there when they begin no three-token text the model or the dictionary
        names (``_after_pair``), else by the three tokens (distinct messages share most of their words and pairs)."""
        padded = (_BOS, _BOS, *tokens, _EOS, _EOS, _EOS, _EOS)  # the last two only fill the triples of the end
        starts, after = self._span_caches[2], self._after
        get = after.get
        found = [
            by_third[c[:1].islower()] if (by_third := get(pair)) and c != _EOS else self._start(pair, c, by_third)
            for pair, c in zip(itertools.pairwise(padded), padded[2:], strict=False)
        ]
        if len(starts) + len(after) > 500_000:
            self.clear()
        return found

    def _start(
        self, pair: tuple[str, str], c: str, by_third: tuple[tuple[float, ...], ...] | None
    ) -> tuple[float, ...]:
        """``_window_scores`` of a triple whose pair was not seen before (``by_third`` is None), or is left to
        ``_starting``, or comes before the end padding."""
        if by_third is None:
            by_third = self._after[pair] = self._after_pair(*pair)
            if by_third and c != _EOS:
                return by_third[c[:1].islower()]
        k = (*pair, c)  # a triple's scores, or (not seen before) computed and remembered: never an empty tuple
        starts = self._span_caches[2]
        return starts.get(k) or starts.setdefault(k, self._starting(k))

    def tags(self, tokens: Sequence[str]) -> list[int]:
        """Viterbi over the two labels (0 = B-W, 1 = I-W); ties go to the lower label, as in CRFsuite.

        The (B-W, I-W) score of a token is the weights of the attributes of its five-token window: for each place
        k of the window, the place k of the spans that begin at token t + k (``_window_scores``)."""
        if not tokens:
            return []
        found = self._window_scores(tokens)
        (bb, bi), (ib, ii) = self.trans
        windows = zip(found, found[1:], found[2:], found[3:], found[4:], strict=False)
        g0, g1, g2, g3, g4 = next(windows)
        prev_b = g0[0] + g1[2] + g2[4] + g3[6] + g4[8]
        prev_i = g0[1] + g1[3] + g2[5] + g3[7] + g4[9]
        back: list[int] = []  # of each later token, the best previous label before a B-W (bit 0) and an I-W (bit 1)
        for g0, g1, g2, g3, g4 in windows:
            from_b, from_i = prev_b + bb, prev_i + ib
            if from_b < from_i:
                step, best_b = 1, from_i
            else:
                step, best_b = 0, from_b
            from_b, from_i = prev_b + bi, prev_i + ii
            if from_b < from_i:
                step, best_i = step + 2, from_i
            else:
                best_i = from_b
            back.append(step)
            prev_b = best_b + (g0[0] + g1[2] + g2[4] + g3[6] + g4[8])
            prev_i = best_i + (g0[1] + g1[3] + g2[5] + g3[7] + g4[9])
        label = 0 if not prev_b < prev_i else 1
        out = [label]
        for step in reversed(back):
            label = (step >> label) & 1
            out.append(label)
        out.reverse()
        return out

    def segment(self, text: str) -> str:
        """The tokens, each after a space, or after "_" where it continues a word (a space inside a token too)."""
        tokens = self.tokenize(text)
        marked = [
            ("_" if tag else " ") + token.replace(" ", "_")
            for tag, token in zip(self.tags(tokens), tokens, strict=True)
        ]
        return "".join(marked)[1:]  # without the mark of the first token


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
