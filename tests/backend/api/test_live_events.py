"""Live updates: GET /console/events streams the ticket changes an official may see, after the commit, on the
in-process Redis stand-in (SQLite) and on real Redis (PostgreSQL); it holds no database connection while idle, sends
keep-alives and ends when uvicorn shuts down."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from backend.app import create_app
from backend.console.live import stream
from backend.db.models import Citizen, Ticket
from backend.db.session import make_session_factory
from backend.services.live import LiveBus, LiveHub, TicketChange, install
from handlers.ports import TicketDraft
from tests.backend.api.conftest import Api, add_official
from tests.liveserver import live_server, wait_for


def _file(api: Api, text: str, commune: str, *, urgent: bool = False, commit: bool = True) -> str:
    with api.container.scope() as s:
        citizen = s.scalars(select(Citizen).where(Citizen.platform_user_id == "live-1")).first()
        if citizen is None:
            citizen = Citizen(channel="webchat", platform_user_id="live-1", chat_id="live-1")
            s.add(citizen)
            s.flush()
        province = {"00070": "01", "26734": "79"}[commune]
        draft = TicketDraft(
            text=text,
            category="ha_tang",
            category_confidence=0.9,
            province_code=province,
            commune_code=commune,
            urgent=urgent,
        )
        code = api.container.ops.file(s, citizen, draft).code
        if commit:
            s.commit()
        return code


class Listener(threading.Thread):
    """An official's browser tab: reads /console/events until the server ends it."""

    def __init__(self, base: str, username: str) -> None:
        super().__init__(daemon=True)
        login = httpx.post(
            f"{base}/console/login", data={"username": username, "password": "mat-khau-123"}, follow_redirects=False
        )
        assert login.status_code == 303, login.text
        self.cookie = login.cookies["gopy_session"]
        self.url = f"{base}/console/events"
        self.text = ""
        self.status = 0
        self.ended = False

    def run(self) -> None:
        with httpx.stream("GET", self.url, headers={"Cookie": f"gopy_session={self.cookie}"}, timeout=60) as response:
            self.status = response.status_code
            for chunk in response.iter_text():
                self.text += chunk
        self.ended = True


def test_changes_reach_officials_in_scope_only_and_streams_end_on_shutdown(api: Api) -> None:
    add_official(api.container, "xa.hk", "00070")
    add_official(api.container, "tinh.hn", "01", "supervisor")
    add_official(api.container, "xa.sg", "26734")
    app = create_app(api.container.settings, api.container)
    with live_server(app) as base:
        tabs = {name: Listener(base, name) for name in ("xa.hk", "tinh.hn", "xa.sg")}
        for tab in tabs.values():
            tab.start()
        wait_for(lambda: all(": gopy live" in t.text for t in tabs.values()), 15)
        wait_for(lambda: app.state.live.streams == 3, 15)
        pool: Any = api.container.engine.pool
        assert pool.checkedout() == 0  # open, idle streams hold no database connection
        time.sleep(1.0)  # the hub's Redis subscription is being made

        code = _file(api, "Cống thoát nước bị tắc ở Hoàn Kiếm", "00070")
        wait_for(lambda: code in tabs["xa.hk"].text and code in tabs["tinh.hn"].text, 15)
        assert f'event: ticket\ndata: {{"code": "{code}", "kind": "created", "urgent": false}}' in tabs["xa.hk"].text
        r = api.client.post(f"/api/tickets/{code}/status", json={"status": "dang_xu_ly"}, headers=api.login("xa.hk"))
        assert r.status_code == 200
        wait_for(lambda: '"kind": "status"' in tabs["tinh.hn"].text, 15)

        other = _file(api, "Đèn đường hỏng ở Sài Gòn", "26734", urgent=True)
        wait_for(lambda: other in tabs["xa.sg"].text, 15)
        assert '"kind": "urgent", "urgent": true' in tabs["xa.sg"].text
        time.sleep(0.5)
        assert code not in tabs["xa.sg"].text  # out of scope: never announced
        assert other not in tabs["xa.hk"].text and other not in tabs["tinh.hn"].text
        assert "mat-khau" not in tabs["xa.hk"].text and "units" not in tabs["xa.hk"].text
        started = time.monotonic()
    # leaving live_server asks uvicorn to stop: the streams end at once (uvicorn waits for open responses)
    for tab in tabs.values():
        tab.join(timeout=10)
        assert tab.ended and tab.status == 200
        assert tab.text.rstrip().endswith("event: bye\ndata: {}")
    assert time.monotonic() - started < 10


def test_events_need_a_live_console_session(api: Api) -> None:
    assert api.client.get("/console/events").status_code == 401
    assert api.client.get("/console/events", headers={"Cookie": "gopy_session=forged"}).status_code == 401


class Recorder(LiveBus):
    """The bus port, recording what is published (the real transports are tested above)."""

    def __init__(self) -> None:
        self.published: list[TicketChange] = []

    def publish(self, changes: list[TicketChange]) -> None:
        self.published.extend(changes)

    async def listen(self) -> AsyncIterator[TicketChange]:
        for change in list(self.published):
            yield change
        await asyncio.Event().wait()  # like a subscription: open until cancelled


def test_published_after_commit_only_with_every_unit_that_may_see(api: Api) -> None:
    recorder = Recorder()
    factory: sessionmaker = make_session_factory(api.container.engine)  # type: ignore[type-arg]
    install(factory, recorder)
    api.container.session_factory = factory
    _file(api, "Ngập sâu đường Lê Lợi", "00070", commit=False)
    assert recorder.published == []  # rolled back: nothing happened, nothing is announced
    code = _file(api, "Ngập sâu đường Lê Lợi", "00070")
    assert [(c.code, c.kind) for c in recorder.published] == [(code, "created")]
    assert "00070" in recorder.published[0].units
    with factory() as s:
        ticket = s.scalars(select(Ticket).where(Ticket.code == code)).one()
        ticket.status = "dang_xu_ly"
        s.commit()
    assert [(c.code, c.kind) for c in recorder.published[1:]] == [(code, "updated")]


async def test_a_stream_sends_keep_alives_and_filters_by_scope() -> None:
    recorder = Recorder()
    hub = LiveHub(recorder)
    lines: list[str] = []

    async def read() -> None:
        async for frame in stream(hub, frozenset({"00070"}), keepalive=0.05, max_seconds=2):
            lines.append(frame)

    task = asyncio.create_task(read())
    await asyncio.sleep(0.2)
    hub._fan_out(TicketChange("HN-1", "created", frozenset({"00070"})))
    hub._fan_out(TicketChange("SG-1", "created", frozenset({"26734"})))
    await asyncio.sleep(0.1)
    await hub.close()
    await asyncio.wait_for(task, 2)
    text = "".join(lines)
    assert text.startswith("retry: 3000")
    assert ": keep-alive" in text
    assert '"code": "HN-1"' in text and "SG-1" not in text
    assert text.endswith("event: bye\ndata: {}\n\n")
