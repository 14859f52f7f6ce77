"""Duplicate clusters: only within one commune (or one province when no commune is known), one category and the
time window; a wrong member can be unlinked (API and console), recorded in both histories."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from backend.db.models import Citizen, Ticket, TicketEvent
from handlers.ports import TicketDraft

from .conftest import Api, add_official

FLOOD = "Đường Tràng Tiền ngập sâu sau mưa, xe máy chết máy giữa đường"


def _file(
    api: Api,
    user: str,
    *,
    commune: str | None = "00070",
    province: str = "01",
    category: str = "ha_tang",
    text: str = FLOOD,
    days_ago: int = 0,
) -> str:
    with api.container.scope() as s:
        citizen = Citizen(channel="webchat", platform_user_id=user, chat_id=user)
        s.add(citizen)
        s.flush()
        draft = TicketDraft(text=text, category=category, province_code=province, commune_code=commune)
        ticket = api.container.ops.file(s, citizen, draft)
        if days_ago:  # an older report: move it back, and its link with it
            ticket.created_at -= timedelta(days=days_ago)
        s.commit()
        return ticket.code


def _root(api: Api, code: str) -> str | None:
    with api.container.scope() as s:
        ticket = s.scalars(select(Ticket).where(Ticket.code == code)).one()
        if ticket.duplicate_of is None:
            return None
        return s.get(Ticket, ticket.duplicate_of).code  # type: ignore[union-attr]


def test_clusters_stay_within_place_category_and_window(api: Api) -> None:
    first = _file(api, "a")
    assert _root(api, _file(api, "b")) == first  # same commune, category, text
    assert _root(api, _file(api, "c", commune="00073")) is None  # another commune
    assert _root(api, _file(api, "d", category="moi_truong")) is None  # another category
    stale = _file(api, "e", commune="26734", province="79", days_ago=20)
    assert _root(api, _file(api, "f", commune="26734", province="79")) is None  # outside the 14-day window
    assert stale
    # no commune known: the same province (and only reports without a commune) counts
    province_only = _file(api, "g", commune=None)
    assert _root(api, province_only) is None  # the Hoàn Kiếm reports name a commune: not "the same place"
    assert _root(api, _file(api, "h", commune=None)) == province_only
    assert _root(api, _file(api, "i", commune=None, province="79")) is None
    # the same words about another street are another matter
    assert _root(api, _file(api, "j", text=FLOOD.replace("Tràng Tiền", "Lê Lợi"))) is None


def test_a_wrong_member_is_unlinked_and_both_histories_say_so(api: Api) -> None:
    add_official(api.container, "xa.hk", "00070")
    add_official(api.container, "xa.sg", "26734")
    a, b, c = _file(api, "a"), _file(api, "b"), _file(api, "c")
    hk = api.login("xa.hk")
    assert api.client.get(f"/api/tickets/{a}", headers=hk).json()["duplicates"] == [b, c]
    # another unit cannot touch the cluster; a ticket outside it cannot be unlinked
    assert api.client.delete(f"/api/tickets/{a}/duplicates/{b}", headers=api.login("xa.sg")).status_code == 404
    outsider = _file(api, "z", category="moi_truong")
    assert api.client.delete(f"/api/tickets/{a}/duplicates/{outsider}", headers=hk).status_code == 422

    # unlinking the root: the oldest remaining member becomes the root of the others
    r = api.client.delete(f"/api/tickets/{b}/duplicates/{a}", headers=hk)
    assert r.status_code == 200, r.text
    assert r.json()["duplicates"] == [c]
    assert _root(api, a) is None and _root(api, b) is None and _root(api, c) == b
    assert api.client.get(f"/api/tickets/{a}", headers=hk).json()["duplicates"] == []
    with api.container.scope() as s:
        events = s.execute(
            select(Ticket.code, TicketEvent.actor_id, TicketEvent.public)
            .join(Ticket, Ticket.id == TicketEvent.ticket_id)
            .where(TicketEvent.kind == "unlinked")
        ).all()
    assert sorted(events) == sorted([(a, "xa.hk", False), (b, "xa.hk", False)])


def test_the_console_unlinks_from_the_ticket_page(api: Api) -> None:
    add_official(api.container, "xa.hk", "00070")
    a, b = _file(api, "a"), _file(api, "b")
    api.client.post("/console/login", data={"username": "xa.hk", "password": "mat-khau-123"})
    page = api.client.get(f"/console/tickets/{a}").text
    assert "Không trùng — gỡ khỏi nhóm" in page
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page).group(1)  # type: ignore[union-attr]
    r = api.client.post(f"/console/tickets/{a}/unlink", data={"member": b, "csrf": csrf})
    assert "Đã gỡ phản ánh khỏi nhóm trùng" in r.text
    assert _root(api, b) is None
    history = r.text[r.text.index('id="history"') :]
    assert "Gỡ khỏi nhóm phản ánh trùng" in history


def test_a_cluster_reply_names_each_citizens_own_ticket(api: Api) -> None:
    from backend.db.models import OutboxItem

    add_official(api.container, "xa.hk", "00070")
    a, b = _file(api, "a"), _file(api, "b")
    body = {"text": f"Phản ánh {a} đã được chuyển tới công ty thoát nước.", "cluster": True}
    assert api.client.post(f"/api/tickets/{a}/replies", json=body, headers=api.login("xa.hk")).status_code == 201
    with api.container.scope() as s:
        sent = {
            code: text
            for code, text in s.execute(
                select(Ticket.code, OutboxItem.text).join(Ticket, Ticket.id == OutboxItem.ticket_id)
            )
            if text.startswith("notify_reply|")
        }
    assert f"Phản ánh {a} đã" in sent[a] and f"Phản ánh {b} đã" in sent[b] and a not in sent[b]
