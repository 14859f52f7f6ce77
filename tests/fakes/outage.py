"""Helpers for outage tests: a fake platform that comes up late (or goes away) on a fixed port, a fake Telegram that
answers slowly, and a private redis-server that a test may kill and start again."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field

import redis
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.fakes.telegram_server import FakeTelegram
from tests.liveserver import free_port


@contextmanager
def live_server_at(app: Starlette, port: int) -> Iterator[str]:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"server on port {port} did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@dataclass
class SlowTelegram(FakeTelegram):
    """Records (delivers) a call at once but answers only after ``answer_delay`` seconds, as a slow platform does."""

    answer_delay: float = 0.0
    in_flight: int = 0

    async def handle(self, request: Request) -> Response:
        response = await super().handle(request)
        if self.answer_delay and request.path_params["method"] == "sendMessage":
            with self.lock:
                self.in_flight += 1
            try:
                await asyncio.sleep(self.answer_delay)
            finally:
                with self.lock:
                    self.in_flight -= 1
        return response


@dataclass
class LateTelegram:
    """A fake Telegram Bot API whose address is known before it runs: ``up()`` starts it, ``down()`` stops it."""

    fake: SlowTelegram = field(default_factory=SlowTelegram)
    port: int = field(default_factory=free_port)
    _stack: ExitStack | None = None

    def __post_init__(self) -> None:
        self.fake.url = f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return self.fake.base_url

    def up(self) -> None:
        assert self._stack is None
        app = Starlette(routes=[Route("/bot{token}/{method}", self.fake.handle, methods=["POST", "GET"])])
        self._stack = ExitStack()
        self._stack.enter_context(live_server_at(app, self.port))

    def down(self) -> None:
        if self._stack is not None:
            self._stack.close()
            self._stack = None


@contextmanager
def late_telegram() -> Iterator[LateTelegram]:
    late = LateTelegram()
    try:
        yield late
    finally:
        late.down()


@dataclass
class PrivateRedis:
    """A redis-server of the test's own on a free port (never the shared one): it may be killed and restarted."""

    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        assert self.process is None
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed"
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        deadline = time.monotonic() + 10
        try:
            while True:
                try:
                    if client.ping():
                        return
                except redis.RedisError:
                    pass
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError("private redis-server did not start")
                time.sleep(0.05)
        finally:
            client.close()

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None


@contextmanager
def private_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis()
    server.start()
    try:
        yield server
    finally:
        server.kill()
