"""Chat parse latency while the NLU workbench trains a model (issue #15 target: p99 while training <= 2x idle p99).

The parses run here, as an API process answering the chat would; the job runs as in production: the ``nlu-train``
worker claims it and trains in a child process of its own, at a lower CPU priority, on the full bundled training data.

    .venv/bin/python -m tests.bench.bench_nlu_train [--n 400] [--model-dir DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from backend.config import bundled_data_dir
from backend.db.migrate import upgrade
from backend.db.models import utcnow
from backend.db.nlu_workbench_models import NluTrainJob
from backend.db.session import make_engine, make_session_factory
from backend.kv import make_kv
from backend.workers.nlu_train import NluTrainWorker
from nlu.engine import NLUEngine
from nlu.rasa_data import load_examples
from nlu.store import ModelStore, ensure_active_model
from nlu.training_data import heldout_path
from tests.bench.common import percentile, row


def _latencies(engine: NLUEngine, texts: list[str], n: int, until: threading.Event | None = None) -> list[float]:
    out: list[float] = []
    i = 0
    while len(out) < n or (until is not None and not until.is_set()):
        text = texts[i % len(texts)]
        i += 1
        started = time.perf_counter()
        engine.parse(text)
        out.append(time.perf_counter() - started)
        if until is not None and until.is_set():
            break
        time.sleep(0.005)  # a chat, not a batch: messages arrive one by one
    return out


def _scope(factory: sessionmaker[Session]) -> Callable[[], AbstractContextManager[Session]]:
    @contextmanager
    def scope() -> Iterator[Session]:
        session = factory()
        try:
            yield session
        finally:
            session.rollback()
            session.close()

    return scope


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=400, help="parses measured idle")
    parser.add_argument("--model-dir", type=Path, default=None, help="a model store to reuse (default: a new one)")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-nlu-train-"))
    data = bundled_data_dir()
    store = ModelStore(args.model_dir or tmp / "models")
    print("preparing the active model (trained once when the store has none)...")
    ensure_active_model(store, data)
    engine = NLUEngine.load(store.active_path())
    texts = [e.text for e in load_examples([heldout_path(data)])]

    url = f"sqlite:///{tmp / 'bench.db'}"
    db = make_engine(url)
    upgrade(db)
    factory = make_session_factory(db)

    scope = _scope(factory)

    _latencies(engine, texts, 50)  # warm up
    idle = _latencies(engine, texts, args.n)

    with factory() as session:
        job = NluTrainJob(status="queued", progress=0.0, log=[], requested_by="bench", created_at=utcnow())
        session.add(job)
        session.commit()
        job_id = job.id
    done = threading.Event()
    worker = NluTrainWorker(scope, make_kv(""), url, store.root, data)
    started = time.perf_counter()

    def train() -> None:
        try:
            asyncio.run(worker.run_once())
        finally:
            done.set()

    thread = threading.Thread(target=train)
    thread.start()
    time.sleep(1.0)  # the child process is starting: measure while it trains
    busy = _latencies(engine, texts, args.n, until=done)
    thread.join()
    seconds = time.perf_counter() - started
    with factory() as session:
        finished = session.get(NluTrainJob, job_id)
        status = finished.status if finished else "?"

    idle_p99, busy_p99 = percentile(idle, 99), percentile(busy, 99)
    ratio = busy_p99 / idle_p99 if idle_p99 else float("inf")
    print(f"\nChat parse latency while a training job runs (job {status} in {seconds:.0f} s, {len(busy)} parses)")
    print(row("idle p50 / p99", f"{percentile(idle, 50) * 1000:.2f} / {idle_p99 * 1000:.2f} ms"))
    print(row("while training p50 / p99", f"{percentile(busy, 50) * 1000:.2f} / {busy_p99 * 1000:.2f} ms"))
    print(row("p99 while training / idle p99", f"{ratio:.2f}x", "<= 2x", "OK" if ratio <= 2 else "MISS"))
    db.dispose()


if __name__ == "__main__":
    main()
