"""The ``nlu-train`` worker: runs the NLU workbench's queued training jobs, one at a time across every process.

A worker that finds a queued job takes a Redis lock (``KV.key("nlu", "train")``, renewed while the job runs; on the
embedded default the in-process stand-in plays Redis), claims the job with a conditional update, and runs it in a
child process (``python -m backend.workers.nlu_train JOB``) at a lower CPU priority: training never runs in a
process that serves the API or the chat, and the chat keeps its latency. A child that dies fails its job with the
end of its error output in the log; a job left ``running`` by a worker that died is failed by the next one to take
the lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from backend.db.models import utcnow
from backend.db.nlu_workbench_models import NluTrainJob
from backend.kv import KV

log = logging.getLogger(__name__)
SessionScope = Callable[[], AbstractContextManager[Session]]
LOCK_SECONDS = 60
RENEW_SECONDS = 10.0
CHILD_NICE = 10
STDERR_TAIL = 3000  # characters of a failed child's error output kept


class NluTrainWorker:
    def __init__(self, scope: SessionScope, kv: KV, database_url: str, model_dir: Path, data_dir: Path) -> None:
        self._scope = scope
        self._kv = kv
        self._env = {
            **os.environ,
            "GOPY_DATABASE_URL": database_url,
            "GOPY_MODEL_DIR": str(model_dir),
            "GOPY_DATA_DIR": str(data_dir),
        }
        self._lock = kv.key("nlu", "train")

    def _queued(self) -> int | None:
        with self._scope() as session:
            return session.scalars(
                select(NluTrainJob.id).where(NluTrainJob.status == "queued").order_by(NluTrainJob.id).limit(1)
            ).first()

    def _claim(self, job_id: int) -> bool:
        with self._scope() as session:
            # a job still "running" while we hold the lock was left by a worker that died
            session.execute(
                update(NluTrainJob)
                .where(NluTrainJob.status == "running")
                .values(status="failed", error="worker stopped", finished_at=utcnow())
            )
            claimed = session.execute(
                update(NluTrainJob)
                .where(NluTrainJob.id == job_id, NluTrainJob.status == "queued")
                .values(status="running", started_at=utcnow(), progress=0.01)
            )
            session.commit()
            return bool(getattr(claimed, "rowcount", 0))

    def _fail(self, job_id: int, error: str) -> None:
        with self._scope() as session:
            job = session.get(NluTrainJob, job_id)
            if job is not None and job.status != "done":
                job.status, job.error, job.finished_at = "failed", error[-2000:], utcnow()
                job.log = [*list(job.log or []), f"Lỗi: {error[-500:]}"][-50:]
                session.commit()

    async def run_once(self) -> int | None:
        """Run the oldest queued job if no other process is training; returns its id, or None."""
        job_id = await asyncio.to_thread(self._queued)
        if job_id is None:
            return None
        token = secrets.token_hex(8)
        if not await self._kv.aio.set(self._lock, token, nx=True, ex=LOCK_SECONDS):
            return None  # another process is training
        try:
            if not await asyncio.to_thread(self._claim, job_id):
                return None
            log.info("NLU training job %d started", job_id)
            code, err = await self._child(job_id, token)
            if code != 0:
                await asyncio.to_thread(self._fail, job_id, err.strip() or f"training process exited with {code}")
            log.info("NLU training job %d ended (exit %d)", job_id, code)
            return job_id
        finally:
            if await self._kv.aio.get(self._lock) == token:
                await self._kv.aio.delete(self._lock)

    async def _child(self, job_id: int, token: str) -> tuple[int, str]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "backend.workers.nlu_train",
            str(job_id),
            env=self._env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        assert proc.stderr is not None
        reading = asyncio.ensure_future(proc.stderr.read())
        while True:
            try:
                await asyncio.wait_for(proc.wait(), timeout=RENEW_SECONDS)
                break
            except TimeoutError:
                if await self._kv.aio.get(self._lock) == token:
                    await self._kv.aio.expire(self._lock, LOCK_SECONDS)
        err = (await reading).decode("utf-8", "replace")
        return proc.returncode or 0, err[-STDERR_TAIL:]

    async def run_forever(self, stop: asyncio.Event, every: float = 2.0) -> None:
        while not stop.is_set():
            try:
                await self.run_once()
            except Exception:
                log.exception("NLU training worker iteration failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=every)


def _main(argv: list[str]) -> int:
    """The child process: run one claimed job with the database, model store and data the worker handed over."""
    from backend.db.session import make_engine, make_session_factory
    from backend.services.nlu_training import run_job

    with contextlib.suppress(OSError, AttributeError):
        os.nice(CHILD_NICE)  # below the processes answering citizens
    engine = make_engine(os.environ["GOPY_DATABASE_URL"])
    factory = make_session_factory(engine)

    @contextlib.contextmanager
    def scope() -> Iterator[Session]:
        session = factory()
        try:
            yield session
        finally:
            session.rollback()
            session.close()

    try:
        run_job(scope, int(argv[0]), Path(os.environ["GOPY_MODEL_DIR"]), Path(os.environ["GOPY_DATA_DIR"]))
    except Exception as exc:  # already recorded on the job; the worker logs the exit code
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
