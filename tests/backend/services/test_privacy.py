"""Decree 13/2023: `gopy admin citizen export|erase` on SQLite and on real PostgreSQL + Redis.

A citizen talks to the bot through the real conversation (real Vietnamese templates, which repeat the citizen's
words back), files tickets, adds information, rates; officials answer and quote the citizen's name and phone.
After the erasure no text or JSON column of any table, and no Redis key or value, holds the citizen's name, phone,
platform id or words, while the ticket statistics are exactly what they were.
"""

from __future__ import annotations

import json
import os
import stat
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest
from sqlalchemy import String, Text, func, select
from sqlalchemy.types import JSON
from typer.testing import CliRunner

from backend.cli import app as cli_app
from backend.config import Settings, get_settings
from backend.container import Container
from backend.db.migrate import upgrade
from backend.db.models import (
    AuditLog,
    Base,
    Citizen,
    Message,
    NluCorrection,
    Official,
    OrgUnit,
    OutboxItem,
    Ticket,
    TicketEvent,
)
from backend.domain import statuses as st
from backend.services import privacy
from backend.services.state import RedisStateStore
from backend.workers.outbox import claim
from bot.messages import Attachment, GeoPoint, InboundMessage
from handlers.ports import CitizenRef, TicketDraft
from tests.fakes.parsers import KeywordParser

UNITS = [
    ("TW", "Ủy ban Trung ương MTTQ Việt Nam", "central", None),
    ("01", "Thành phố Hà Nội", "province", "TW"),
    ("00070", "Phường Hoàn Kiếm", "commune", "01"),
    ("79", "Thành phố Hồ Chí Minh", "province", "TW"),
    ("26734", "Phường Sài Gòn", "commune", "79"),
]

NAME = "Nguyễn Thị Hoa Mai"
PHONE = "0912345678"
USER = "7770019"  # Telegram user id of the citizen who asks to be forgotten
# Fragments of what the citizen wrote; each must be stored somewhere before, and nowhere after.
WORDS = ["ngõ Tràng Tiền", "bốc mùi hôi thối", "chất đống ở chợ Đồng Xuân", "cán bộ rất tận tình", "ổ gà sâu hoắm"]
SECRETS = [NAME, PHONE, "912 345 678", USER, *WORDS]
OTHER_WORDS = "Đường Lê Lợi ngập sâu"  # another citizen's, must stay


class PhoneParser(KeywordParser):
    """The shared stand-in without "hà nội" and without urgent words."""

    PLACES: ClassVar[dict[str, tuple[str, str | None]]] = {"hoàn kiếm": ("01", "00070"), "sài gòn": ("79", "26734")}
    URGENT_WORDS: ClassVar[tuple[str, ...]] = ()
    MODEL = "phone-test"


@dataclass
class World:
    container: Container
    settings: Settings

    def say(self, text: str, user: str = USER, channel: str = "telegram", name: str | None = NAME) -> list[str]:
        msg = InboundMessage(
            channel=channel,  # type: ignore[arg-type]
            platform_message_id=f"{user}:{uuid.uuid4().hex}",
            user_id=user,
            chat_id=user,
            kind="text",
            text=text,
            display_name=name,
        )
        stored = self.container.intake.store(msg)
        rows = self.container.intake.process(stored.message_id, deliver_inline=channel == "webchat")
        return [r.text for r in rows]

    def official(self, username: str, unit: str = "00070") -> Official:
        with self.container.scope() as s:
            s.add(Official(username=username, password_hash="x", role="officer", unit_code=unit))
            s.commit()
            row = s.scalars(select(Official).where(Official.username == username)).one()
            s.expunge(row)
            return row


@pytest.fixture
def world(backend_urls: tuple[str, str], tmp_path: Path) -> Iterator[World]:
    settings = Settings(
        _env_file=None,
        environment="test",
        database_url=backend_urls[0],
        redis_url=backend_urls[1],
        run_workers=False,
        model_dir=tmp_path / "models",
    )
    container = Container(settings)
    upgrade(container.engine)
    with container.scope() as s:
        for code, name, level, parent in UNITS:
            s.add(OrgUnit(code=code, name=name, short_name=name, level=level, parent_code=parent))
            s.flush()
        s.commit()
    container.parser = PhoneParser()  # type: ignore[assignment]
    yield World(container, settings)
    container.close()


def ticket_of(world: World, user: str) -> list[str]:
    with world.container.scope() as s:
        citizen = privacy.find_citizen(s, "telegram", user) or privacy.find_citizen(s, "webchat", user)
        assert citizen is not None
        return list(s.scalars(select(Ticket.code).where(Ticket.citizen_id == citizen.id).order_by(Ticket.id)))


def build_history(world: World) -> dict[str, str]:
    """Two tickets and a draft in progress for the citizen, one ticket for someone else. Returns ticket codes."""
    c = world.container
    world.say(f"Cống thoát nước ở ngõ Tràng Tiền phường Hoàn Kiếm bốc mùi hôi thối, gọi tôi số {PHONE}")
    world.say("1")  # consent: named
    world.say("1")  # send
    (first,) = ticket_of(world, USER)
    officer = world.official("canbo.hk")
    with c.scope() as s:
        ticket = c.ops.by_code(s, first)
        row = s.get(Official, officer.id)
        assert ticket is not None and row is not None
        c.ops.reply(s, row, ticket, f"Chúng tôi đã gọi cho chị {NAME} theo số 0912 345 678 để hẹn kiểm tra.")
        c.ops.add_note(s, row, ticket, f"Bà {NAME} phản ánh lần hai.")
        c.ops.correct_category(s, row, ticket, "moi_truong")
        c.ops.change_status(s, row, ticket, st.DA_TRA_LOI, "Đã nạo vét cống.")
        s.commit()
    with c.scope() as s:
        citizen = privacy.find_citizen(s, "telegram", USER)
        assert citizen is not None
        ref = privacy.citizen_ref(citizen)
    c.tickets.add_info(
        ref,
        first,
        "Tôi gửi thêm ảnh ổ gà sâu hoắm",
        [Attachment(kind="image", url="https://files.example/abc.jpg", platform_file_id="AgAD-photo", name="o-ga.jpg")],
        GeoPoint(21.0245, 105.8412),
    )
    c.tickets.rate(ref, first, 4, "Xử lý chậm nhưng cán bộ rất tận tình")
    second = c.tickets.file(
        ref, TicketDraft(text="Ổ gà sâu hoắm ở ngõ Tràng Tiền", category="ha_tang", province_code="01", phone=PHONE)
    ).code
    world.say("Rác thải chất đống ở chợ Đồng Xuân phường Hoàn Kiếm")  # a draft waiting for confirmation
    world.say(f"{OTHER_WORDS} ở phường Sài Gòn", user="sessB", channel="webchat", name="Trần Văn Bình")
    world.say("1", user="sessB", channel="webchat", name="Trần Văn Bình")
    world.say("1", user="sessB", channel="webchat", name="Trần Văn Bình")
    return {"first": first, "second": second}


def stored_text(world: World) -> list[tuple[str, str, str]]:
    """Every text and JSON value in the database and every key and value in Redis: (where, row, text)."""
    found: list[tuple[str, str, str]] = []
    with world.container.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            cols = [col for col in table.columns if isinstance(col.type, String | Text | JSON)]
            for row in conn.execute(select(*cols)).mappings():
                for col in cols:
                    value = row[col.name]
                    if value is None:
                        continue
                    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
                    found.append((f"{table.name}.{col.name}", str(dict(row))[:80], text))
    kv = world.container.kv.sync
    for key in kv.scan_iter(world.container.kv.key("*")):
        found.append(("redis key", key, key))
        if kv.type(key) == "string":
            found.append(("redis value", key, str(kv.get(key))))
    return found


def holders(world: World, fragment: str) -> set[str]:
    low = fragment.lower()
    return {where for where, _row, text in stored_text(world) if low in text.lower()}


def statistics(world: World) -> list[tuple[Any, ...]]:
    with world.container.scope() as s:
        tickets = [
            (
                *(t.code, t.category, t.status, t.unit_code, t.province_code, t.commune_code, t.urgent, t.anonymous),
                *(t.rating, t.accept_deadline, t.deadline, t.created_at, t.overdue, t.channel, t.citizen_id),
            )
            for t in s.scalars(select(Ticket).order_by(Ticket.id)).unique()
        ]
        by_category = list(
            s.execute(
                select(Ticket.category, Ticket.status, func.count()).group_by(Ticket.category, Ticket.status)
            ).all()
        )
        events = list(s.execute(select(TicketEvent.kind, func.count()).group_by(TicketEvent.kind)).all())
        messages = s.scalar(select(func.count()).select_from(Message))
        outbox = s.scalar(select(func.count()).select_from(OutboxItem))
    return [tuple(tickets), tuple(sorted(by_category)), tuple(sorted(events)), (messages, outbox)]


@pytest.fixture
def cli_env(world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    """The ``gopy`` CLI pointed at the test database and Redis."""
    monkeypatch.setenv("GOPY_ENVIRONMENT", "test")
    monkeypatch.setenv("GOPY_DATABASE_URL", world.settings.database_url)
    monkeypatch.setenv("GOPY_REDIS_URL", world.settings.redis_url)
    monkeypatch.setenv("GOPY_MODEL_DIR", str(world.settings.model_dir))
    get_settings.cache_clear()
    if not world.settings.redis_url:
        # The embedded Redis stand-in lives inside one process; let the CLI share the test's, as if on real Redis.
        monkeypatch.setattr("backend.cli._container", lambda: Container(get_settings(), kv=world.container.kv))
    yield CliRunner()
    get_settings.cache_clear()


def test_erase_leaves_no_trace_and_keeps_statistics(world: World, cli_env: CliRunner) -> None:
    codes = build_history(world)
    for fragment in SECRETS:
        assert holders(world, fragment), f"the test should store {fragment!r} somewhere before the erasure"
    assert any(
        k.startswith(world.container.kv.key("state", "conv:telegram:"))
        for k in world.container.kv.sync.scan_iter(world.container.kv.key("*"))
    )
    before = statistics(world)

    result = cli_env.invoke(
        cli_app, ["admin", "citizen", "erase", "--channel", "telegram", "--user", USER, "--yes", "--actor", "dpo.an"]
    )
    assert result.exit_code == 0, result.output

    leaks = {fragment: holders(world, fragment) for fragment in SECRETS}
    assert leaks == {fragment: set() for fragment in SECRETS}
    assert statistics(world) == before
    assert {"tickets.text", "messages.text", "messages.data"} <= holders(world, OTHER_WORDS)  # someone else's
    with world.container.scope() as s:
        citizen = s.get(Citizen, before[0][0][-1])
        assert citizen is not None and citizen.erased_at is not None
        assert citizen.platform_user_id.startswith("erased:") and citizen.display_name is None
        erased = s.scalars(select(Ticket).where(Ticket.code.in_(codes.values()))).unique().all()
        assert {t.personal_data_erased_at is not None for t in erased} == {True}
        assert {t.text for t in erased} == {privacy.ERASED_TEXT}
        assert all(t.latitude is None and t.attachments == [] and t.rating_comment is None for t in erased)
        other = s.scalars(select(Ticket).where(Ticket.code.not_in(codes.values()))).unique().one()
        assert OTHER_WORDS in other.text and other.personal_data_erased_at is None
        assert (
            s.scalars(select(Citizen).where(Citizen.platform_user_id == "sessB")).one().display_name == "Trần Văn Bình"
        )
        # nothing is left to deliver to the erased chat, and nothing is claimed for it
        assert claim(s, 100, ["telegram"]) == []
        assert not s.scalars(select(NluCorrection.text).where(NluCorrection.text != "")).all()
        audit = s.scalars(select(AuditLog).where(AuditLog.action == "citizen_erase")).one()
        assert (audit.actor, audit.object_id) == ("dpo.an", str(citizen.id))
        assert audit.detail["tickets"] == 2 and audit.detail["identity"] is True


def test_erase_is_idempotent_and_a_new_message_starts_fresh(world: World, cli_env: CliRunner) -> None:
    build_history(world)
    args = ["admin", "citizen", "erase", "--channel", "telegram", "--user", USER, "--yes", "--actor", "dpo.an"]
    assert cli_env.invoke(cli_app, args).exit_code == 0
    after_first = statistics(world)
    again = cli_env.invoke(cli_app, args)
    assert again.exit_code == 0, again.output
    assert "nothing to erase" in " ".join(again.output.split())
    assert statistics(world) == after_first
    with world.container.scope() as s:
        old = s.scalars(select(Citizen).where(Citizen.erased_at.is_not(None))).one()
        old_id = old.id
        done = privacy.erase_citizen(s, old, states=None, actor="dpo.an")  # the same row again: no change
        s.commit()
        assert done.as_detail() == {
            "tickets": 0,
            "messages": 0,
            "outbox": 0,
            "events": 0,
            "corrections": 0,
            "identity": False,
        }
        assert [
            a.detail.get("found") for a in s.scalars(select(AuditLog).where(AuditLog.action == "citizen_erase"))
        ] == [
            None,
            False,
            None,
        ]
    assert statistics(world) == after_first

    world.say("1")  # the old draft waited for "1" = send; a fresh conversation has no draft to send
    with world.container.scope() as s:
        fresh = privacy.find_citizen(s, "telegram", USER)
        assert fresh is not None and fresh.id != old_id and fresh.erased_at is None
        assert s.scalar(select(func.count()).where(Ticket.citizen_id == fresh.id)) == 0
        assert s.scalar(select(func.count()).where(Ticket.citizen_id == old_id)) == 2


def test_erase_asks_before_acting(world: World, cli_env: CliRunner) -> None:
    build_history(world)
    before = holders(world, NAME)
    result = cli_env.invoke(
        cli_app, ["admin", "citizen", "erase", "--channel", "telegram", "--user", USER], input="n\n"
    )
    assert result.exit_code != 0
    assert holders(world, NAME) == before


def test_export_holds_everything_with_vietnam_times_and_is_audited(
    world: World, cli_env: CliRunner, tmp_path: Path
) -> None:
    codes = build_history(world)
    out = tmp_path / "export.json"
    out.write_text("old", encoding="utf-8")
    out.chmod(0o644)
    result = cli_env.invoke(
        cli_app,
        ["admin", "citizen", "export", "--channel", "telegram", "--user", USER, "--out", str(out), "--actor", "dpo.an"],
    )
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    body = out.read_text(encoding="utf-8")
    data = json.loads(body)
    assert data["citizen"]["display_name"] == NAME and data["citizen"]["phone"] == PHONE
    assert data["citizen"]["platform_user_id"] == USER
    assert data["consent"]["value"] == "named" and data["consent"]["at_vn"].endswith("+07:00")
    assert data["consent"]["at"].endswith("+00:00")
    assert [t["code"] for t in data["tickets"]] == [codes["first"], codes["second"]]
    first = data["tickets"][0]
    assert "ngõ Tràng Tiền" in first["text"] and first["latitude"] == pytest.approx(21.0245)
    kinds = [e["kind"] for e in first["events"]]
    assert {"created", "routed", "reply", "note", "corrected", "status", "info", "rating"} <= set(kinds)
    assert all(e["created_at_vn"].endswith("+07:00") for e in first["events"])
    assert {m["direction"] for m in data["messages"]} == {"in"}  # Telegram replies wait in the outbox
    assert any("chất đống ở chợ Đồng Xuân" in m["text"] for m in data["messages"])
    assert any("bốc mùi hôi thối" in o["text"] for o in data["outbox"])  # the summary the bot sent back
    assert any(codes["first"] == o["ticket"] for o in data["outbox"])  # the official's answer
    assert data["ratings"] == [
        {
            "ticket": codes["first"],
            "stars": 4,
            "comment": "Xử lý chậm nhưng cán bộ rất tận tình",
            "at": data["ratings"][0]["at"],
            "at_vn": data["ratings"][0]["at_vn"],
        }
    ]
    assert [a["name"] for a in data["attachments"]] == ["o-ga.jpg", "o-ga.jpg"]  # on the ticket and in the info event
    assert data["nlu_corrections"][0]["corrected"] == "gui_phan_anh/moi_truong"
    assert "canbo.hk" not in body  # citizens see the unit, never the official's login
    assert OTHER_WORDS not in body and "Trần Văn Bình" not in body
    if world.settings.redis_url:  # the draft in progress lives in the shared Redis
        assert "chất đống ở chợ Đồng Xuân" in json.dumps(data["conversation_state"], ensure_ascii=False)
    with world.container.scope() as s:
        audit = s.scalars(select(AuditLog).where(AuditLog.action == "citizen_export")).one()
        assert audit.actor == "dpo.an" and audit.detail["tickets"] == 2
        assert USER not in json.dumps(audit.detail) and NAME not in json.dumps(audit.detail)

    to_stdout = cli_env.invoke(cli_app, ["admin", "citizen", "export", "--channel", "telegram", "--user", USER])
    assert to_stdout.exit_code == 0
    assert json.loads(to_stdout.stdout)["citizen"]["id"] == data["citizen"]["id"]
    with world.container.scope() as s:
        actors = list(s.scalars(select(AuditLog.actor).where(AuditLog.action == "citizen_export")))
        assert len(actors) == 2 and actors[1].startswith("cli:")


def test_export_of_an_unknown_citizen_fails_clearly(world: World, cli_env: CliRunner) -> None:
    result = cli_env.invoke(cli_app, ["admin", "citizen", "export", "--channel", "telegram", "--user", "nobody"])
    assert result.exit_code == 1
    said = " ".join(result.output.split())  # the console wraps long lines
    assert "no citizen 'nobody'" in said and "không có người dân 'nobody'" in said


def test_redactor_blanks_names_and_phone_spellings() -> None:
    redact = privacy.Redactor([NAME, "Bo"], ["+84 912 345 678"])
    text = f"Đã gọi chị {NAME.upper()} số 0912.345.678, +84912345678 và 0912 345 678; Bo vẫn còn"
    assert redact(text) == "Đã gọi chị […] số […], […] và […]; Bo vẫn còn"
    assert redact(None) is None


def test_retention_setting_defaults_to_24_months(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings(_env_file=None).retention_months == 24
    monkeypatch.setenv("GOPY_RETENTION_MONTHS", "6")
    assert Settings(_env_file=None).retention_months == 6
    monkeypatch.setenv("GOPY_RETENTION_MONTHS", "0")
    with pytest.raises(ValueError):
        Settings(_env_file=None)


def test_state_store_key_matches_the_conversation(world: World) -> None:
    """The erasure drops the key the conversation really uses."""
    world.say("Rác thải chất đống ở chợ Đồng Xuân phường Hoàn Kiếm")
    with world.container.scope() as s:
        citizen = privacy.find_citizen(s, "telegram", USER)
        assert citizen is not None
        ref = CitizenRef(citizen.id, "telegram", USER)
        store = RedisStateStore(world.container.kv)
        from handlers.state import state_key

        assert store.load(state_key(ref)) is not None
        privacy.erase_citizen(s, citizen, states=store, actor="t")
        s.commit()
        assert store.load(state_key(ref)) is None
