"""Officials on Telegram, end to end against the fake Bot API: linking with a one-time code, ticket notifications
through the outbox, and answering a citizen by replying to a notification (preview, then "Gửi" or "Huỷ")."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from backend.app import create_app
from backend.config import Settings
from backend.container import Container
from backend.db.models import Citizen, Official, OutboxItem, Ticket, TicketEvent, utcnow
from backend.db.official_links_models import (
    OfficialChannelLink,
    OfficialLinkCode,
    OfficialReplyDraft,
    OfficialTicketNotice,
)
from backend.services.security import hash_password
from handlers.ports import TicketDraft
from tests.drain import wait_until_drained
from tests.fakes.telegram_server import FakeTelegram, fake_telegram
from tests.liveserver import wait_for

SECRET = "webhook-Secret_123"
CITIZEN_CHAT = 4242
PASSWORD = "mat-khau-123"
_ids = count(20_000)


@dataclass
class World:
    client: TestClient
    container: Container
    fake: FakeTelegram

    def post(self, body: dict[str, Any]) -> None:
        r = self.client.post("/webhooks/telegram", json=body, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
        assert r.status_code == 200, r.text

    def say(self, chat: int, text: str, *, reply_to: int | None = None) -> None:
        self.post(tg_message(chat, text, reply_to=reply_to))

    def press(self, chat: int, payload: str) -> None:
        self.post(callback(chat, payload))

    def texts_to(self, chat: int) -> list[str]:
        return [c["text"] for c in self.fake.sent() if int(c["chat_id"]) == chat]

    def wait_text(self, chat: int, fragment: str, n: int = 1) -> str:
        wait_for(lambda: len([t for t in self.texts_to(chat) if fragment in t]) >= n)
        return [t for t in self.texts_to(chat) if fragment in t][-1]

    def official(self, username: str, unit: str, role: str = "officer", full_name: str = "") -> int:
        with self.container.scope() as s:
            row = Official(
                username=username,
                full_name=full_name,
                password_hash=hash_password(PASSWORD),
                role=role,
                unit_code=unit,
            )
            s.add(row)
            s.commit()
            return row.id

    def code_for(self, username: str) -> str:
        with self.container.scope() as s:
            official = s.scalars(select(Official).where(Official.username == username)).one()
            return self.container.official_telegram.issue_code(s, official).code

    def link(self, username: str, chat: int) -> None:
        self.say(chat, f"/lienket {self.code_for(username)}")
        self.wait_text(chat, "Đã liên kết Telegram này")

    def file(self, text: str, *, urgent: bool = False, commune: str = "00070") -> str:
        with self.container.scope() as s:
            citizen = s.scalars(select(Citizen).where(Citizen.platform_user_id == str(CITIZEN_CHAT))).first()
            if citizen is None:
                citizen = Citizen(channel="telegram", platform_user_id=str(CITIZEN_CHAT), chat_id=str(CITIZEN_CHAT))
                s.add(citizen)
                s.commit()
            draft = TicketDraft(
                text=text,
                category="ha_tang",
                province_code="01",
                commune_code=commune,
                location_text="phố Lê Lợi, phường Hoàn Kiếm",
                urgent=urgent,
            )
            ticket = self.container.ops.file(s, citizen, draft)  # as the citizens' port files it
            s.commit()
            return ticket.code

    def notice_message_id(self, code: str, chat: int) -> int:
        """The Telegram message id of the notification about ``code`` in ``chat`` (as the outbox recorded it)."""

        def sent() -> list[Any]:
            with self.container.scope() as s:
                return list(
                    s.scalars(
                        select(OutboxItem.platform_message_ids)
                        .join(OfficialTicketNotice, OfficialTicketNotice.outbox_id == OutboxItem.id)
                        .join(Ticket, Ticket.id == OfficialTicketNotice.ticket_id)
                        .where(Ticket.code == code, OutboxItem.chat_id == str(chat), OutboxItem.status == "sent")
                    )
                )

        wait_for(lambda: sent() != [])
        return int(sent()[0][0])

    def preview_buttons(self, chat: int) -> dict[str, str]:
        wait_for(lambda: any(c.get("reply_markup") for c in self.fake.sent() if int(c["chat_id"]) == chat))
        last = [c for c in self.fake.sent() if int(c["chat_id"]) == chat and c.get("reply_markup")][-1]
        return {row[0]["text"]: row[0]["callback_data"] for row in last["reply_markup"]["inline_keyboard"]}


def tg_message(chat: int, text: str, *, reply_to: int | None = None) -> dict[str, Any]:
    uid = next(_ids)
    message: dict[str, Any] = {
        "message_id": uid,
        "date": 1800000000,
        "text": text,
        "chat": {"id": chat, "type": "private"},
        "from": {"id": chat, "is_bot": False, "first_name": "Cán bộ", "last_name": str(chat)},
    }
    if reply_to is not None:
        message["reply_to_message"] = {
            "message_id": reply_to,
            "date": 1800000000,
            "chat": {"id": chat, "type": "private"},
            "text": "…",
        }
    return {"update_id": uid, "message": message}


def callback(chat: int, payload: str) -> dict[str, Any]:
    uid = next(_ids)
    return {
        "update_id": uid,
        "callback_query": {
            "id": f"cb{uid}",
            "from": {"id": chat, "is_bot": False, "first_name": "Cán bộ"},
            "chat_instance": "x",
            "data": payload,
            "message": {"message_id": 1, "date": 1, "chat": {"id": chat, "type": "private"}},
        },
    }


@pytest.fixture
def world(backend_urls: tuple[str, str], tmp_path: Path) -> Iterator[World]:
    with fake_telegram() as fake:
        settings = Settings(
            _env_file=None,
            environment="test",
            database_url=backend_urls[0],  # type: ignore[call-arg]
            redis_url=backend_urls[1],
            model_dir=tmp_path / "models",
            bootstrap_model=False,  # no citizen text is parsed here: officials' messages never reach the NLU
            telegram_token=fake.token,
            telegram_secret=SECRET,
            telegram_api_url=fake.base_url,
            public_url="https://gopy.example.vn",
            outbox_base_delay=0.05,
            outbox_max_delay=0.2,
            telegram_rate_per_chat=50.0,  # the officials' chats get several answers in a row here
        )
        container = Container(settings)
        with TestClient(create_app(settings, container), base_url="https://testserver") as client:  # secure cookie
            yield World(client, container, fake)
        container.close()


def _links(w: World) -> list[tuple[str, str]]:
    with w.container.scope() as s:
        rows = s.execute(
            select(Official.username, OfficialChannelLink.chat_id).join(
                Official, Official.id == OfficialChannelLink.official_id
            )
        )
        return sorted((u, c) for u, c in rows)


def test_linking_refuses_wrong_expired_and_reused_codes(world: World) -> None:
    w = world
    w.official("xa.hk", "00070", full_name="Nguyễn Văn An")
    code = w.code_for("xa.hk")
    assert re.fullmatch(r"[A-Z2-9]{4}-[A-Z2-9]{4}", code)
    with w.container.scope() as s:  # only an HMAC is kept
        hashes = list(s.scalars(select(OfficialLinkCode.code_hash)))
        assert len(hashes) == 1 and code.replace("-", "") not in hashes[0]

    w.say(501, "/lienket ABCD-EFGH")
    w.wait_text(501, "Mã liên kết không đúng")
    w.say(501, "/lienket")
    w.wait_text(501, "/lienket MÃ")
    assert _links(w) == []

    w.say(501, f"/lienket {code.lower().replace('-', ' ')}")  # typed in lower case, with a space: still the code
    linked = w.wait_text(501, "Đã liên kết Telegram này")
    assert "Nguyễn Văn An" in linked and "Phường Hoàn Kiếm" in linked
    assert _links(w) == [("xa.hk", "501")]

    w.say(502, f"/link {code}")  # single use
    w.wait_text(502, "Mã liên kết không đúng")

    stale = w.code_for("xa.hk")
    with w.container.scope() as s:
        s.execute(update(OfficialLinkCode).values(expires_at=utcnow() - timedelta(seconds=1)))
        s.commit()
    w.say(502, f"/lienket {stale}")
    w.wait_text(502, "Mã liên kết không đúng", n=2)
    assert _links(w) == [("xa.hk", "501")]
    wait_until_drained(w.container)
    with w.container.scope() as s:  # a link command is never a citizen's conversation
        assert s.scalar(select(func.count()).select_from(Ticket)) == 0
    assert not any("13/2023" in t for t in w.texts_to(501) + w.texts_to(502))


def test_wrong_codes_are_rate_limited(world: World) -> None:
    w = world
    w.official("xa.hk", "00070")
    for i in range(5):
        w.say(503, f"/lienket SAIMA{i:03d}")
    w.wait_text(503, "Mã liên kết không đúng", n=5)
    w.say(503, f"/lienket {w.code_for('xa.hk')}")  # even the right code waits until the window has passed
    w.wait_text(503, "nhập sai mã quá nhiều lần")
    assert _links(w) == []


def test_urgent_ticket_reaches_the_officials_and_a_reply_answers_the_citizen(world: World) -> None:
    w = world
    w.official("xa.hk", "00070", full_name="Nguyễn Văn An")
    w.official("tinh.hn", "01", role="supervisor")
    w.official("canbo.hn", "01")  # an officer of the province: not told about a commune's tickets
    w.official("xa.cn", "00073")  # another commune
    for name, chat in (("xa.hk", 601), ("tinh.hn", 602), ("canbo.hn", 603), ("xa.cn", 604)):
        w.link(name, chat)

    text = "Cây xanh đổ chắn ngang phố Lê Lợi, dây điện bị kéo đứt, rất nguy hiểm. " + "Chi tiết. " * 60
    code = w.file(text, urgent=True)
    notice = w.wait_text(601, code)
    assert notice.startswith("🚨 KHẨN") and "Lĩnh vực: Hạ tầng" in notice
    assert "phố Lê Lợi, phường Hoàn Kiếm" in notice and "(giờ Việt Nam)" in notice
    assert f"https://gopy.example.vn/console/tickets/{code}" in notice
    assert "…" in notice and "Chi tiết. " * 40 not in notice  # the first ~300 characters only
    w.wait_text(602, code)  # the supervisor above sees urgent ones
    wait_until_drained(w.container)
    assert not any(code in t for t in w.texts_to(603) + w.texts_to(604))
    with w.container.scope() as s:
        item = s.scalars(select(OutboxItem).where(OutboxItem.chat_id == "601", OutboxItem.text.contains(code))).one()
        assert item.author == "system" and item.citizen_id is None and item.ticket_id is None

    before = len(w.texts_to(CITIZEN_CHAT))
    w.say(
        601,
        "Đã cử tổ công tác tới hiện trường, dự kiến xử lý xong trong chiều nay.",
        reply_to=w.notice_message_id(code, 601),
    )
    preview = w.wait_text(601, f"Gửi trả lời này cho người dân về {code}?")
    assert "Đã cử tổ công tác" in preview
    buttons = w.preview_buttons(601)
    assert list(buttons) == ["Gửi", "Huỷ"]
    assert len(w.texts_to(CITIZEN_CHAT)) == before  # nothing reaches the citizen before "Gửi"

    w.press(601, buttons["Gửi"])
    w.wait_text(601, f"Đã gửi trả lời tới người dân về phản ánh {code}")
    answer = w.wait_text(CITIZEN_CHAT, "Đã cử tổ công tác")
    assert code in answer and "xa.hk" not in answer  # the citizen hears from the committee, not the login
    w.press(601, buttons["Gửi"])  # a second press sends nothing more
    w.wait_text(601, "đã được gửi hoặc đã huỷ trước đó")
    wait_until_drained(w.container)
    assert len([t for t in w.texts_to(CITIZEN_CHAT) if "Đã cử tổ công tác" in t]) == 1
    with w.container.scope() as s:
        ticket = s.scalars(select(Ticket).where(Ticket.code == code)).one()
        replies = list(
            s.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id, TicketEvent.kind == "reply"))
        )
        assert [(e.actor_type, e.actor_id) for e in replies] == [("official", "xa.hk")]
        assert ticket.status == "da_tiep_nhan"  # the first answer accepts it, as in the console


def test_cancel_sends_nothing_and_other_messages_are_not_petitions(world: World) -> None:
    w = world
    w.official("xa.hk", "00070")
    w.link("xa.hk", 611)
    code = w.file("Đèn đường hỏng cả dãy phố Lê Lợi từ tuần trước")
    assert w.wait_text(611, code).startswith("🔔 Phản ánh mới")
    w.say(611, "Câu trả lời nháp", reply_to=w.notice_message_id(code, 611))
    w.press(611, w.preview_buttons(611)["Huỷ"])
    w.wait_text(611, f"Đã huỷ, chưa gửi gì cho người dân về phản ánh {code}")
    w.say(611, "Cây đổ chắn đường ở phường Hoàn Kiếm, Hà Nội")  # not a reply: the official's chat is not a petition
    w.wait_text(611, "kênh thông báo dành cho cán bộ")
    w.say(611, "Trả lời nhầm tin", reply_to=1)  # a reply to something that is not a notification
    w.wait_text(611, "Không xác định được phản ánh cần trả lời")
    wait_until_drained(w.container)
    assert not any("Câu trả lời nháp" in t for t in w.texts_to(CITIZEN_CHAT))
    with w.container.scope() as s:
        assert s.scalar(select(func.count()).select_from(Ticket)) == 1
        assert list(s.scalars(select(OfficialReplyDraft.status))) == ["cancelled"]
        assert s.scalar(select(func.count()).select_from(TicketEvent).where(TicketEvent.kind == "reply")) == 0


def test_an_official_who_lost_access_is_refused(world: World) -> None:
    w = world
    w.official("xa.hk", "00070")
    w.link("xa.hk", 621)
    code = w.file("Rác thải đổ trộm ở góc phố Lê Lợi nhiều ngày")
    message_id = w.notice_message_id(code, 621)
    w.say(621, "Xin trả lời", reply_to=message_id)
    buttons = w.preview_buttons(621)
    with w.container.scope() as s:  # moved to another commune after the preview
        s.execute(update(Official).where(Official.username == "xa.hk").values(unit_code="00073"))
        s.commit()
    w.press(621, buttons["Gửi"])
    w.wait_text(621, f"không còn quyền xử lý phản ánh {code}")
    w.say(621, "Xin trả lời lần nữa", reply_to=message_id)
    w.wait_text(621, f"không còn quyền xử lý phản ánh {code}", n=2)
    wait_until_drained(w.container)
    assert not any("Xin trả lời" in t for t in w.texts_to(CITIZEN_CHAT))
    with w.container.scope() as s:
        assert s.scalar(select(func.count()).select_from(TicketEvent).where(TicketEvent.kind == "reply")) == 0
        assert list(s.scalars(select(OfficialReplyDraft.status))) == ["refused"]
        s.execute(update(Official).where(Official.username == "xa.hk").values(active=False, unit_code="00070"))
        s.commit()
    later = w.file("Nắp cống bị vỡ trên phố Lê Lợi")  # a deactivated official is told nothing more
    w.say(621, "Xin trả lời", reply_to=message_id)
    w.wait_text(621, "đã ngừng hoạt động")
    wait_until_drained(w.container)
    assert not any(later in t for t in w.texts_to(621))


def test_overdue_goes_to_the_unit_and_the_supervisors_above_once(world: World) -> None:
    w = world
    w.official("xa.hk", "00070")
    w.official("tinh.hn", "01", role="supervisor")
    w.link("xa.hk", 631)
    w.link("tinh.hn", 632)
    code = w.file("Cống thoát nước bị tắc ở phố Lê Lợi")  # not urgent: only the commune is told it is new
    w.wait_text(631, code)
    with w.container.scope() as s:
        ticket_id = s.scalars(select(Ticket.id).where(Ticket.code == code)).one()
    for _ in range(2):  # two schedulers racing: one escalation, one notification each
        with w.container.scope() as s:
            w.container.ops.escalate_overdue(s, ticket_id)
    assert w.wait_text(632, code).startswith("⏰ QUÁ HẠN")
    assert w.wait_text(631, "QUÁ HẠN")
    wait_until_drained(w.container)
    assert len([t for t in w.texts_to(632) if code in t]) == 1  # not told it was new, told once it is overdue
    assert len([t for t in w.texts_to(631) if code in t]) == 2  # new, then overdue


def test_unlinking_from_telegram_and_from_the_console(world: World) -> None:
    w = world
    w.official("xa.hk", "00070")
    w.link("xa.hk", 641)
    w.say(641, "/huylienket")
    w.wait_text(641, "Đã huỷ liên kết")
    w.say(641, "/huylienket")
    w.wait_text(641, "chưa liên kết với tài khoản cán bộ nào")
    assert _links(w) == []
    code = w.file("Vỉa hè phố Lê Lợi bị lấn chiếm")
    wait_until_drained(w.container)
    assert not any(code in t for t in w.texts_to(641))

    r = w.client.post("/console/login", data={"username": "xa.hk", "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 303
    page = w.client.get("/console/account")
    assert page.status_code == 200 and "Chưa liên kết Telegram" in page.text
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
    assert csrf is not None
    assert w.client.post("/console/account/telegram/code", data={"csrf": "0" * 64}).status_code == 403
    shown = w.client.post("/console/account/telegram/code", data={"csrf": csrf[1]})
    found = re.search(r'data-code="([A-Z2-9]{4}-[A-Z2-9]{4})"', shown.text)
    assert shown.status_code == 200 and found is not None and f"/lienket {found[1]}" in shown.text
    w.say(642, f"/lienket {found[1]}")
    w.wait_text(642, "Đã liên kết Telegram này")
    assert 'data-telegram="linked"' in w.client.get("/console/account").text
    r = w.client.post("/console/account/telegram/unlink", data={"csrf": csrf[1]}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/console/account?msg=telegram_unlinked"
    assert "Đã huỷ liên kết Telegram" in w.client.get(r.headers["location"]).text
    assert _links(w) == []
