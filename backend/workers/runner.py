"""Runs the background workers (outbox delivery, inbound processing, deadlines) until told to stop."""

from __future__ import annotations

import asyncio

from backend.container import Container
from backend.workers.inbound import InboundWorker
from backend.workers.outbox import OutboxWorker, RetryPolicy
from backend.workers.sla import SlaWorker


async def run_workers(container: Container, stop: asyncio.Event) -> None:
    s = container.settings
    senders = await container.channel_senders()
    outbox = OutboxWorker(
        container.scope,
        senders,
        container.rate_limiter(),
        RetryPolicy(s.outbox_max_attempts, s.outbox_base_delay, s.outbox_max_delay),
    )
    inbound = InboundWorker(container.scope, container.intake)
    sla = SlaWorker(container.scope, container.ops)
    await asyncio.gather(
        outbox.run_forever(stop), inbound.run_forever(stop, container.inbound_wakeup()), sla.run_forever(stop)
    )
