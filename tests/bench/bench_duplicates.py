"""Duplicate detection benchmark: precision and recall of ``similarity >= DUPLICATE_THRESHOLD`` on labelled pairs.

    .venv/bin/python -m tests.bench.bench_duplicates

The pairs (tests/fixtures/duplicate_pairs.yml) are all in one commune and one category, as the clustering compares
only those (backend/services/tickets.py). Target: precision >= 0.95 (a wrong link makes an official answer a citizen
about someone else's matter); recall is reported. A sweep shows the neighbouring thresholds and the plain cosine
without the place rule, for comparison.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from backend.domain.similarity import DUPLICATE_THRESHOLD, cosine, features, similarity
from tests.bench.common import row

PAIRS = Path(__file__).resolve().parents[1] / "fixtures" / "duplicate_pairs.yml"
TARGET_PRECISION = 0.95


def load_pairs(path: Path = PAIRS, source: str | None = None) -> list[tuple[str, str, bool]]:
    """(text a, text b, same matter) of every pair, or only those of one ``source`` ("hand": written by hand)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [(p["a"], p["b"], bool(p["same"])) for p in data["pairs"] if source is None or p.get("source") == source]


def precision_recall(scores: list[tuple[float, bool]], threshold: float) -> tuple[float, float]:
    tp = sum(1 for s, same in scores if s >= threshold and same)
    fp = sum(1 for s, same in scores if s >= threshold and not same)
    fn = sum(1 for s, same in scores if s < threshold and same)
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    return precision, recall


def main() -> None:
    pairs = load_pairs()
    ours = [(similarity(a, b), same) for a, b, same in pairs]
    plain = [(cosine(features(a), features(b)), same) for a, b, same in pairs]
    same = sum(1 for *_x, s in pairs if s)
    print(f"duplicate detection on {len(pairs)} labelled pairs ({same} same matter, {len(pairs) - same} different)")
    precision, recall = precision_recall(ours, DUPLICATE_THRESHOLD)
    verdict = "OK" if precision >= TARGET_PRECISION else "BELOW TARGET"
    print(row(f"precision at threshold {DUPLICATE_THRESHOLD}", f"{precision:.3f}", f">= {TARGET_PRECISION}", verdict))
    print(row(f"recall at threshold {DUPLICATE_THRESHOLD}", f"{recall:.3f}", "reported"))
    hand = [(similarity(a, b), same) for a, b, same in load_pairs(source="hand")]
    hand_p, hand_r = precision_recall(hand, DUPLICATE_THRESHOLD)
    print(row(f"hand-written paraphrases ({len(hand)}): precision", f"{hand_p:.3f}", "reported"))
    print(row("hand-written paraphrases: recall", f"{hand_r:.3f}", "reported (weak spot)"))
    print("  sweep (threshold: precision / recall, with the place rule | plain cosine)")
    for step in range(20, 75, 5):
        t = step / 100
        p1, r1 = precision_recall(ours, t)
        p2, r2 = precision_recall(plain, t)
        print(f"    {t:.2f}: {p1:.3f} / {r1:.3f}   |   {p2:.3f} / {r2:.3f}")
    scored = zip(ours, pairs, strict=True)
    wrong = sorted(
        ((s, a, b) for (s, same), (a, b, _) in scored if s >= DUPLICATE_THRESHOLD and not same), reverse=True
    )
    for s, a, b in wrong[:5]:
        print(f"  false link {s:.2f}: {a!r} ~ {b!r}")


if __name__ == "__main__":
    main()
