"""NLU benchmark: quality on the held-out file against two baselines, speed of parsing, loading and training.

    .venv/bin/python -m tests.bench.bench_nlu [--heldout data/nlu/test/heldout.yml] [--out /tmp/gopy-bench]

Two held-out files, both outside the training paths: the team-written one (issue #3 targets: intent >= 0.95,
category >= 0.88, commune >= 0.90 where named; the best macro-F1 of ours, fastText and underthesea_core's
TextClassifier) and the real-world one, paraphrased from public pages (issue #12 targets: category >= 0.90,
intent >= 0.97, province >= 0.97, commune >= 0.90, invented place <= 2%, false urgent <= 2%). Also urgency
precision/recall (the hand list of emergencies against the real petitions) and a confusion-matrix picture of the
real-world categories.
"""

from __future__ import annotations

import argparse
import gc
import os
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from sklearn.metrics import accuracy_score, f1_score

from nlu.cli import DEFAULT_DATA
from nlu.engine import NLUEngine
from nlu.gazetteer import key, load_gazetteer, short_name
from nlu.rasa_data import Example, load_examples, strip_entities
from nlu.store import ModelStore, train
from nlu.vocab import fold
from tests.bench.common import percentile, row

ROOT = Path(__file__).resolve().parents[2]
ANNOTATION = re.compile(r"\[([^\]]+)\]\((commune|province)\)")


def heldout_locations(path: Path) -> list[tuple[str, str | None, str | None]]:
    """(plain text, gold province code, gold commune code) for held-out examples that name a place.

    The gold units come from the annotated spans by exact name lookup in the gazetteer (diacritics and the
    "xã/phường" prefix ignored), independently of the extractor being measured; a span that names no unit, or
    several, is left out.
    """
    gaz = load_gazetteer()
    provinces = {key(p.short_name): p.code for p in gaz.provinces}
    provinces.update({key(p.name): p.code for p in gaz.provinces})
    for alias, code in (("tp hcm", "79"), ("hcm", "79"), ("sai gon", "79"), ("tp ho chi minh", "79")):
        provinces.setdefault(alias, code)
    communes: dict[tuple[str, str], list[str]] = {}
    for c in gaz.communes:
        communes.setdefault((c.parent_code or "", key(c.short_name)), []).append(c.code)
    out: list[tuple[str, str | None, str | None]] = []
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    for block in data["nlu"]:
        for line in str(block.get("examples", "")).splitlines():
            raw = line.strip().removeprefix("- ").strip()
            spans = {kind: value for value, kind in ANNOTATION.findall(raw)}
            if not spans:
                continue
            pkey = key(short_name(spans.get("province", ""))) if "province" in spans else ""
            pkey = pkey.removeprefix("tp ").removeprefix("thanh pho ").removeprefix("tinh ")
            province = provinces.get(pkey) if pkey else None
            commune = None
            if "commune" in spans:
                ckey = key(short_name(spans["commune"]))
                for prefix in ("xa ", "phuong ", "dac khu ", "thi tran "):
                    ckey = ckey.removeprefix(prefix)
                if province is None:
                    continue  # a commune without its province is not resolvable by name alone
                codes = communes.get((province, ckey), [])
                if len(codes) != 1:
                    continue
                commune = codes[0]
            if province or commune:
                out.append((strip_entities(raw), province, commune))
    return out


def baseline_fasttext(train_ex: list[Example], test_texts: list[str]) -> tuple[list[str], float]:
    import fasttext

    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as f:
        for e in train_ex:
            f.write(f"__label__{e.label.replace('/', '~')} {fold(e.text)}\n")
    started = time.perf_counter()
    model = fasttext.train_supervised(
        f.name, epoch=50, lr=0.5, wordNgrams=2, minn=2, maxn=5, dim=50, verbose=0, thread=2, seed=1
    )
    seconds = time.perf_counter() - started
    Path(f.name).unlink()
    labels, _ = model.predict([fold(t).replace("\n", " ") for t in test_texts])
    return [ls[0].removeprefix("__label__").replace("~", "/") for ls in labels], seconds


def baseline_underthesea(train_ex: list[Example], test_texts: list[str]) -> tuple[list[str], float]:
    import underthesea_core

    clf = underthesea_core.TextClassifier()
    started = time.perf_counter()
    clf.fit([e.text.lower() for e in train_ex], [e.label for e in train_ex])
    seconds = time.perf_counter() - started
    return [str(x) for x in clf.predict_batch([t.lower() for t in test_texts])], seconds


def scores(gold: list[str], pred: list[str]) -> dict[str, float]:
    labels = sorted(set(gold))
    intents_g = [g.split("/")[0] for g in gold]
    intents_p = [p.split("/")[0] for p in pred]
    cat_idx = [i for i, g in enumerate(gold) if "/" in g]
    cg = [gold[i] for i in cat_idx]
    cp = [pred[i] for i in cat_idx]
    return {
        "label_acc": float(accuracy_score(gold, pred)),
        "label_macro_f1": float(f1_score(gold, pred, labels=labels, average="macro", zero_division=0)),
        "intent_acc": float(accuracy_score(intents_g, intents_p)),
        "category_acc": float(accuracy_score(cg, cp)),
        "category_macro_f1": float(f1_score(cg, cp, labels=sorted(set(cg)), average="macro", zero_division=0)),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--heldout", type=Path, default=ROOT / "data" / "nlu" / "test" / "heldout.yml")
    ap.add_argument("--quick", action="store_true", help="fewer timing repetitions")
    ap.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "gopy-bench", help="reports and pictures")
    args = ap.parse_args()
    train_ex = load_examples([ROOT / p for p in DEFAULT_DATA])
    test_ex = load_examples([args.heldout])
    texts, gold = [e.text for e in test_ex], [e.label for e in test_ex]
    train_texts = {fold(e.text) for e in train_ex}
    leaked = sum(fold(t) in train_texts for t in texts)
    n_cat = len({e.label for e in train_ex if "/" in e.label})
    print(
        f"Training: {len(train_ex)} examples, {len({e.label for e in train_ex})} labels ({n_cat} categories); "
        f"held-out: {len(test_ex)} examples; held-out texts also in training: {leaked}"
    )
    per_label: dict[str, int] = {}
    for e in train_ex:
        per_label[e.label] = per_label.get(e.label, 0) + 1
    fewest_cat = min(v for k, v in per_label.items() if "/" in k)
    fewest_int = min(v for k, v in per_label.items() if "/" not in k)
    print(
        row("fewest training examples per category", str(fewest_cat), ">= 150", "OK" if fewest_cat >= 150 else "SHORT")
    )
    print(
        row(
            "fewest training examples per other intent", str(fewest_int), ">= 40", "OK" if fewest_int >= 40 else "SHORT"
        )
    )

    started = time.perf_counter()
    classifier, meta = train(train_ex)
    train_s = time.perf_counter() - started
    store = ModelStore(Path(tempfile.mkdtemp()))
    path_for_cli = store.save(classifier, meta)
    t0 = time.perf_counter()
    engine = NLUEngine.load(path_for_cli)
    load_s = time.perf_counter() - t0
    size_mb = sum(f.stat().st_size for f in Path(path_for_cli).rglob("*") if f.is_file()) / 1e6
    ours = [
        p["intent"]["name"] + (f"/{p['category']['name']}" if p.get("category") else "")
        for p in (r.to_dict() for r in engine.parse_many(texts))
    ]
    ft_pred, ft_s = baseline_fasttext(train_ex, texts)
    ut_pred, ut_s = baseline_underthesea(train_ex, texts)
    results = {
        "gopy (tf-idf + LR)": scores(gold, ours),
        "fastText": scores(gold, ft_pred),
        "underthesea_core TextClassifier": scores(gold, ut_pred),
    }

    print("\nQuality on the held-out file")
    print(f"  {'model':<34} {'intent acc':>10} {'cat acc':>8} {'cat mF1':>8} {'label acc':>10} {'label mF1':>10}")
    for name, s in results.items():
        print(
            f"  {name:<34} {s['intent_acc']:>10.3f} {s['category_acc']:>8.3f} {s['category_macro_f1']:>8.3f} "
            f"{s['label_acc']:>10.3f} {s['label_macro_f1']:>10.3f}"
        )
    mine = results["gopy (tf-idf + LR)"]
    best = max(results, key=lambda n: results[n]["label_macro_f1"])
    print(
        row("intent accuracy", f"{mine['intent_acc']:.3f}", ">= 0.95", "OK" if mine["intent_acc"] >= 0.95 else "MISS")
    )
    print(
        row(
            "category accuracy",
            f"{mine['category_acc']:.3f}",
            ">= 0.88",
            "OK" if mine["category_acc"] >= 0.88 else "MISS",
        )
    )
    print(row("best macro-F1 of the three", best, "gopy", "OK" if best.startswith("gopy") else "MISS"))

    located = heldout_locations(args.heldout)
    parsed = [p.to_dict() for p in engine.parse_many([t for t, _, _ in located])]
    prov = [
        (p.get("location") or {}).get("province_code") == g for p, (_, g, _) in zip(parsed, located, strict=True) if g
    ]
    comm = [
        (p.get("location") or {}).get("commune_code") == c for p, (_, _, c) in zip(parsed, located, strict=True) if c
    ]
    print(f"\nLocations on the held-out file ({len(located)} examples whose annotated place resolves by name)")
    if prov:
        print(row("province accuracy", f"{sum(prov) / len(prov):.3f} (n={len(prov)})", ""))
    if comm:
        acc = sum(comm) / len(comm)
        print(
            row(
                "commune accuracy where a commune is named",
                f"{acc:.3f} (n={len(comm)})",
                ">= 0.90",
                "OK" if acc >= 0.90 else "MISS",
            )
        )

    real_world(engine, classifier, args.out)

    from nlu.segment import clear_caches, segment

    sample = (texts * 20)[:2000] if not args.quick else (texts * 3)[:300]
    engine.parse("khởi động")
    # Distinct messages: every NLU cache emptied, then the training texts parsed first (as a running server has seen
    # many messages), then the held-out and real-world texts measured: none of them was parsed since the clearing.
    from tests.nlu.realworld import load_items

    fresh = list(dict.fromkeys([*texts, *(it.text for it in load_items())]))
    clear_caches()
    t0, c0 = time.perf_counter(), time.process_time()
    engine.parse_many(fresh)
    cold_wall, cold_cpu = time.perf_counter() - t0, time.process_time() - c0  # caches empty at the start
    clear_caches()
    engine.parse_many([e.text for e in train_ex])
    gc.collect()
    gc.freeze()  # as a gopy process does once its model is loaded (EngineParser, backend/container.py)
    t0, c0 = time.perf_counter(), time.process_time()
    engine.parse_many(fresh)
    warm_wall, warm_cpu = time.perf_counter() - t0, time.process_time() - c0
    t0 = time.perf_counter()
    engine.parse_many(sample)
    batch_s = time.perf_counter() - t0
    singles = []
    for t in sample[:300]:
        t1 = time.perf_counter()
        engine.parse(t)
        singles.append(time.perf_counter() - t1)
    from underthesea import word_tokenize

    t0 = time.perf_counter()
    for t in sample[:300]:
        word_tokenize(t)  # underthesea's word segmentation itself (our segment() caches)
    seg_s = (time.perf_counter() - t0) / len(sample[:300])
    segment("")
    load = "load " + " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\nSpeed (one process, this machine; {load}; rates on one core = messages / CPU seconds of the process)")
    print(row("parse_many throughput (repeated messages)", f"{len(sample) / batch_s:.0f} msg/s"))
    p50 = percentile(singles, 50) * 1000
    print(
        row(
            "single parse p50 / p99",
            f"{p50:.2f} / {percentile(singles, 99) * 1000:.2f} ms",
            "p50 <= 2 ms",
            "OK" if p50 <= 2 else "SLOW",
        )
    )
    print(
        row(
            "single parse p50 vs underthesea word_tokenize",
            f"{percentile(singles, 50) / seg_s:.2f}x",
            f"(segmentation {seg_s * 1000:.2f} ms)",
        )
    )
    n = len(fresh)
    print(
        row(
            f"parse_many, {n} distinct messages, after the training texts",
            f"{n / warm_cpu:.0f} msg/s ({n / warm_wall:.0f} wall)",
            ">= 2000 msg/s",
            "OK" if n / warm_cpu >= 2000 else "SLOW",
        )
    )
    print(row("  the same with every cache empty", f"{n / cold_cpu:.0f} msg/s ({n / cold_wall:.0f} wall)"))
    print(row("  per message vs bare word segmentation", f"{warm_wall / n / seg_s:.2f}x"))
    print(row("model load", f"{load_s:.2f} s", f"<= 2 s ({size_mb:.1f} MB)", "OK" if load_s <= 2 else "SLOW"))
    firsts = [first_answer(path_for_cli) for _ in range(3)]  # the first run builds the store's cache
    print(
        row(
            "gopy nlu parse TEXT: start to answer, first run / then",
            f"{firsts[0]:.2f} / {min(firsts[1:]):.2f} s",
            "<= 2 s",
            "OK" if min(firsts[1:]) <= 2 else "SLOW",
        )
    )
    cli = cli_throughput(path_for_cli, texts, 3000 if not args.quick else 600)
    print(
        row(
            "gopy nlu parse on stdin (incl. start-up and model load)",
            f"{cli[0]:.0f} msg/s",
            ">= 1000 msg/s",
            "OK" if cli[0] >= 1000 else "SLOW",
        )
    )
    print(
        row(
            "gopy nlu parse on stdin (after the first answer)",
            f"{cli[1]:.0f} msg/s",
            ">= 1000 msg/s",
            "OK" if cli[1] >= 1000 else "SLOW",
        )
    )
    print(
        row(
            "training time: gopy / fastText / underthesea",
            f"{train_s:.1f} / {ft_s:.1f} / {ut_s:.1f} s",
            "gopy <= 60 s",
            "OK" if train_s <= 60 else "SLOW",
        )
    )
    shutil.rmtree(path_for_cli.parent, ignore_errors=True)


def real_world(engine: NLUEngine, classifier: Any, out: Path) -> None:
    """Figures on the real-world held-out file, urgency precision/recall, and the confusion-matrix picture."""
    from nlu.evaluate import evaluate, write_reports
    from nlu.urgency import is_urgent
    from tests.nlu.realworld import REALWORLD, load_items, measure
    from tests.nlu.test_urgency import EMERGENCIES, NOT_EMERGENCIES

    items = load_items()
    parsed = [p.to_dict() for p in engine.parse_many([it.text for it in items])]
    m = measure(parsed, items)
    print(f"\nReal-world held-out ({m['n']} petitions paraphrased from public pages; never trained on)")
    for label, value, target, ok in (
        ("intent accuracy", m["intent_acc"], ">= 0.97", m["intent_acc"] >= 0.97),
        ("category accuracy", m["category_acc"], ">= 0.90", m["category_acc"] >= 0.90),
        ("province accuracy", m["province_acc"], f">= 0.97 (n={m['province_n']})", m["province_acc"] >= 0.97),
        ("commune accuracy where named", m["commune_acc"], f">= 0.90 (n={m['commune_n']})", m["commune_acc"] >= 0.90),
        (
            "place invented where none named",
            m["invented_rate"],
            f"<= 0.02 (n={m['unnamed_n']})",
            m["invented_rate"] <= 0.02,
        ),
        ("false urgent", m["false_urgent_rate"], "<= 0.02", m["false_urgent_rate"] <= 0.02),
    ):
        print(row(label, f"{value:.3f}", target, "OK" if ok else "MISS"))
    positives = [is_urgent(t) for t in EMERGENCIES]
    negatives = [is_urgent(t) for t in [it.text for it in items] + NOT_EMERGENCIES]
    tp, fp = sum(positives), sum(negatives)
    precision = tp / max(tp + fp, 1)
    recall = tp / len(positives)
    print(
        row(
            "urgency precision / recall",
            f"{precision:.3f} / {recall:.3f}",
            f"({len(positives)} emergencies, {len(negatives)} ordinary)",
            "OK" if recall == 1.0 and fp / len(negatives) <= 0.02 else "MISS",
        )
    )
    ev = evaluate(classifier, load_examples([REALWORLD]), level="category")
    paths = write_reports(ev, out / "realworld")
    print(row("real-world category report and confusion matrix", str(paths[-1])))


def first_answer(model: Path) -> float:
    """Seconds from starting ``gopy nlu parse TEXT`` to its answer (the whole process: imports, model, caches)."""
    import subprocess
    import sys

    t0 = time.perf_counter()
    subprocess.run(
        [str(Path(sys.executable).with_name("gopy")), "nlu", "parse", "--model", str(model), "Cống vỡ ở xã Tân Phú"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - t0


def cli_throughput(model: Path, texts: list[str], n: int) -> tuple[float, float]:
    """Messages per second through ``gopy nlu parse`` reading stdin, whole run and after its first output line."""
    import subprocess
    import sys

    lines = "".join(t.replace("\n", " ") + "\n" for t in (texts * (n // max(len(texts), 1) + 1))[:n])
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("gopy")), "nlu", "parse", "--model", str(model)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=ROOT,
        text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None
    stdin = proc.stdin

    def feed() -> None:  # in a thread: the answers must be read while the questions are still being written
        stdin.write(lines)
        stdin.close()

    import threading

    writer = threading.Thread(target=feed)
    writer.start()
    first = proc.stdout.readline()
    t1 = time.perf_counter()
    count = 1 if first else 0
    for _ in proc.stdout:
        count += 1
    t2 = time.perf_counter()
    writer.join()
    proc.wait()
    assert count == n, f"expected {n} answers, got {count}"
    return n / (t2 - t0), (n - 1) / max(t2 - t1, 1e-9)


if __name__ == "__main__":
    main()
