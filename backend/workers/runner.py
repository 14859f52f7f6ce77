"""Runs the background workers (outbox delivery, inbound processing, deadlines) until told to stop.

Each worker is supervised: if it dies it is logged with its traceback and started again with a capped exponential
backoff; ``/readyz`` reports every worker's state. To add a worker, append ``(name, factory)`` to ``WORKERS``: the
factory gets the container and the stop event and runs until the event is set.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from backend.container import Container
from backend.services.state import RedisStateStore
from backend.workers.inbound import InboundWorker
from backend.workers.nlu_train import NluTrainWorker
from backend.workers.outbox import OutboxWorker, RetryPolicy
from backend.workers.reports import monthly_reports_worker, report_rollups_worker
from backend.workers.retention import RetentionWorker
from backend.workers.sla import SlaWorker
from backend.workers.supervisor import Backoff, supervise

WorkerFactory = Callable[[Container, asyncio.Event], Awaitable[None]]
BACKOFF = Backoff(base=1.0, cap=60.0, reset_after=120.0)  # restart delays of a worker that died


async def outbox_worker(container: Container, stop: asyncio.Event) -> None:
    s = container.settings
    senders = await container.channels.senders()  # platform clients connect lazily, on their first send
    worker = OutboxWorker(
        container.scope,
        senders,
        container.channels.rate_limiter(),
        RetryPolicy(s.outbox_max_attempts, s.outbox_base_delay, s.outbox_max_delay),
    )
    await worker.run_forever(stop)


async def inbound_worker(container: Container, stop: asyncio.Event) -> None:
    await InboundWorker(container.scope, container.intake).run_forever(stop, container.channels.inbound.event())


async def sla_worker(container: Container, stop: asyncio.Event) -> None:
    await SlaWorker(container.scope, container.ops).run_forever(stop)


async def retention_worker(container: Container, stop: asyncio.Event) -> None:
    """Hourly: erase the personal data of tickets closed more than ``GOPY_RETENTION_MONTHS`` ago (Decree 13/2023)."""
    states = RedisStateStore(container.kv)
    await RetentionWorker(container.scope, states, container.settings.retention_months).run_forever(stop)


async def nlu_train_worker(container: Container, stop: asyncio.Event) -> None:
    """The NLU workbench's training jobs, one at a time across processes, each in a child process."""
    s = container.settings
    await NluTrainWorker(container.scope, container.kv, s.database_url, s.model_dir, s.data_dir).run_forever(stop)


WORKERS: list[tuple[str, WorkerFactory]] = [
    ("outbox", outbox_worker),
    ("inbound", inbound_worker),
    ("sla", sla_worker),
    ("retention", retention_worker),
    ("reports", monthly_reports_worker),  # monthly DOCX/XLSX reports (data/reports.yml)
    ("rollups", report_rollups_worker),  # daily roll-ups and topics of the summary reports
    ("nlu-train", nlu_train_worker),  # the NLU workbench's training jobs (backend/workers/nlu_train.py)
]


async def run_workers(
    container: Container,
    stop: asyncio.Event,
    workers: Sequence[tuple[str, WorkerFactory]] | None = None,
    backoff: Backoff | None = None,
) -> None:
    """Run every worker under supervision until ``stop`` is set (malformed data files fail at once, unsupervised)."""
    container.validate_data()
    backoff = backoff or BACKOFF
    board = container.workers
    runs = []
    for name, factory in workers if workers is not None else WORKERS:

        def run(stop: asyncio.Event, factory: WorkerFactory = factory) -> Awaitable[None]:
            return factory(container, stop)

        runs.append(supervise(name, run, stop, board.register(name), backoff))
    await asyncio.gather(*runs)
