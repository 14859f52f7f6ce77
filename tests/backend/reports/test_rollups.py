"""Daily roll-ups: the summaries read from them count exactly what the tickets say, after random changes too."""

from __future__ import annotations

import random
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from backend.db.models import Official, Ticket, utcnow
from backend.db.rollup_models import ReportDaily, RollupState, TopicCache
from backend.domain.deadlines import VN_TZ
from backend.services import reports, rollups
from nlu import vocab

from .conftest import Api, add_official, file
from .test_summary_api import get, known_data

UNITS = ("00070", "00073", "01", "26734", "79", "TW")
CATEGORIES = vocab.CATEGORIES[:4]  # a few fields are enough for random changes
CHANNELS = ("webchat", "telegram", "zalo")


def _random_tickets(api: Api, rng: random.Random, n: int) -> list[int]:
    now = utcnow()
    ids = []
    for i in range(n):
        created = now - timedelta(days=rng.randint(1, 40), hours=rng.randint(0, 23))
        answered = created + timedelta(hours=rng.randint(1, 200)) if rng.random() < 0.5 else None
        responded = (
            None if answered else (created + timedelta(hours=rng.randint(1, 50)) if rng.random() < 0.4 else None)
        )
        ids.append(
            file(
                api,
                f"Phản ánh số {i}: đường hỏng, rác thải",
                unit=rng.choice(UNITS),
                category=rng.choice(CATEGORIES),
                channel=rng.choice(CHANNELS),
                created=created,
                urgent=rng.random() < 0.2,
                deadline=created + timedelta(hours=rng.randint(24, 400)),
                overdue=rng.random() < 0.2,
                answered=answered,
                responded=responded,
                status="da_tra_loi" if answered else ("dang_xu_ly" if responded else None),
                rating=rng.randint(1, 5) if answered and rng.random() < 0.6 else None,
            ).id
        )
    return ids


def _summary(session: Session, *, raw: bool, **kw: Any) -> dict[str, Any]:
    """The summary as the API computes it; ``raw``: with the roll-ups set aside (everything from the tickets)."""
    start, end = reports.today_vn() - timedelta(days=45), reports.today_vn()
    if raw:
        session.execute(delete(RollupState))
    data = reports.summarize(session, kw.pop("unit"), start, end, topics=False, **kw).as_dict()
    session.rollback()
    data.pop("generated_at")
    return data


QUERIES: list[dict[str, Any]] = [
    {"unit": "TW"},
    {"unit": "01"},
    {"unit": "00070"},
    {"unit": "TW", "category": "moi_truong"},
    {"unit": "01", "channel": "telegram"},
    {"unit": "TW", "category": reports.UNCATEGORISED},
]


def _assert_rollups_agree(api: Api, *, table: bool = True) -> None:
    with api.container.scope() as s:
        officer = s.scalars(select(Official).where(Official.username == "hk.rollup")).one()
        supervisor = s.scalars(select(Official).where(Official.username == "hn.rollup")).one()
        cover = rollups.coverage(s, reports.today_vn() - timedelta(days=45), reports.today_vn())
        assert cover.rolled, "the roll-ups should cover past days"
        for query in [*QUERIES, {"unit": "00070", "official": officer}, {"unit": "01", "official": supervisor}]:
            assert _summary(s, raw=False, **query) == _summary(s, raw=True, **query), query
        if not table:
            return
        # the table itself: per day, unit, field, channel and status, the counts of the tickets
        stored: Counter[tuple[Any, ...]] = Counter()
        for day, unit, cat, channel, status, n in s.execute(
            select(
                ReportDaily.day,
                ReportDaily.unit_code,
                ReportDaily.category,
                ReportDaily.channel,
                ReportDaily.status,
                func.sum(ReportDaily.tickets),
            ).group_by(
                ReportDaily.day, ReportDaily.unit_code, ReportDaily.category, ReportDaily.channel, ReportDaily.status
            )
        ):
            stored[(rollups.as_date(day), unit, cat, channel, status)] += int(n)
        mark = rollups.state(s)
        assert mark is not None and mark.covered_until is not None
        actual = Counter(
            (
                t.created_at.astimezone(VN_TZ).date(),
                t.unit_code,
                t.category or reports.UNCATEGORISED,
                t.channel,
                t.status,
            )
            for t in s.scalars(select(Ticket))
            if t.created_at.astimezone(VN_TZ).date() <= mark.covered_until
        )
        assert stored == actual


def test_rollups_equal_raw_counts_after_random_changes(api: Api) -> None:
    rng = random.Random(13)
    add_official(api.container, "hk.rollup", "00070", "officer")
    add_official(api.container, "hn.rollup", "01", "supervisor")
    ids = _random_tickets(api, rng, 40)
    with api.container.scope() as s:
        first = rollups.refresh(s)
        assert first.rebuilt and first.rows > 0
    _assert_rollups_agree(api)

    # changes after the roll-up: status changes and replies, transfers, ratings, flags, a deadline passing
    c = api.container
    with c.scope() as s:
        actor = s.scalars(select(Official).where(Official.username == "reports.actor")).one()
        for ticket_id in rng.sample(ids, 12):
            ticket = s.get(Ticket, ticket_id)
            assert ticket is not None
            action = rng.choice(("reply", "status", "move", "rate", "flag"))
            if action == "reply" and ticket.status not in ("da_dong", "tu_choi"):
                c.ops.reply(s, actor, ticket, "Đã trả lời bổ sung.")
            elif action == "status" and ticket.status == "moi":
                c.ops.change_status(s, actor, ticket, "da_tiep_nhan", None)
            elif action == "move":
                ticket.unit_code, ticket.updated_at = rng.choice(UNITS), utcnow()
            elif action == "rate":
                ticket.rating, ticket.updated_at = rng.randint(1, 5), utcnow()
            else:
                ticket.overdue, ticket.updated_at = not ticket.overdue, utcnow()
        s.commit()
        # an open ticket whose deadline passes without the deadline worker flagging it (no change to the row)
        s.execute(
            update(Ticket)
            .where(Ticket.id == ids[0])
            .values(status="dang_xu_ly", overdue=False, deadline=utcnow() - timedelta(minutes=1))
        )
        s.commit()
    _random_tickets(api, rng, 5)  # new tickets on past days
    _assert_rollups_agree(api, table=False)  # changed days are read from the tickets until the worker rolls them up

    with api.container.scope() as s:
        again = rollups.refresh(s)
        assert not again.rebuilt and again.days > 0
    _assert_rollups_agree(api)
    with api.container.scope() as s:  # past the watermark's margin, nothing changed since: nothing to roll up
        later = utcnow() + rollups.WATERMARK_MARGIN * 2
        rollups.refresh(s, later)
        assert rollups.refresh(s, later + timedelta(minutes=1)).days == 0


def test_summary_totals_agree_with_the_ticket_list_when_rolled_up(api: Api) -> None:
    known_data(api)
    with api.container.scope() as s:
        rollups.refresh(s)
        assert s.scalar(select(func.sum(ReportDaily.tickets))) == s.scalar(
            select(func.count())
            .select_from(Ticket)
            .where(Ticket.created_at < rollups.utc_bounds(*[reports.today_vn()] * 2)[0])
        )
    for username, unit, role in (
        ("tw.admin", "TW", "admin"),
        ("hn.sup", "01", "supervisor"),
        ("hk", "00070", "officer"),
    ):
        add_official(api.container, username, unit, role)
        h = api.login(username)
        s = get(api, h, **{"from": "2026-10-01", "to": str(reports.today_vn())}).json()
        assert s["total"] == api.client.get("/api/tickets", params={"limit": 1}, headers=h).json()["count"], username
        for status, n in s["by_status"].items():
            assert api.client.get("/api/tickets", params={"status": status}, headers=h).json()["count"] == n
        for category, n in s["by_category"].items():
            if category != reports.UNCATEGORISED:
                listed = api.client.get("/api/tickets", params={"category": category}, headers=h).json()["count"]
                assert listed == n, (username, category)


def test_median_from_the_histogram() -> None:
    tally = rollups.Tally()
    tally.responses.update({200: 1, 2400: 1, 4800: 1, 9600: 1})  # 2, 24, 48, 96 hours
    assert tally.median_response_hours() == 36.0
    tally.responses[100] += 1
    assert tally.median_response_hours() == 24.0
    assert rollups.Tally().median_response_hours() is None
    assert rollups.runs([reports.today_vn(), reports.today_vn() - timedelta(days=1)], 5)[0][1] == reports.today_vn()


def test_the_worker_and_the_command_keep_the_rollups(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    from backend.cli import app
    from backend.config import get_settings
    from backend.workers.reports import RollupsWorker

    rng = random.Random(7)
    _random_tickets(api, rng, 8)
    worker = RollupsWorker(api.container.scope)
    result = worker.run_once(tick=0.0)
    assert result.rebuilt and result.rows > 0
    with api.container.scope() as s:
        assert s.scalar(select(func.sum(ReportDaily.tickets))) == 8
        cached = s.scalars(select(TopicCache.unit_code)).all()
        assert "TW" in cached and "01" in cached  # topics of the last 30 days, ready for TW and the provinces
    assert not worker.run_once(tick=1.0).rebuilt  # topics again only after a quarter of an hour

    monkeypatch.setenv("GOPY_DATABASE_URL", str(api.container.engine.url.render_as_string(hide_password=False)))
    monkeypatch.setenv("GOPY_ENVIRONMENT", "test")
    get_settings.cache_clear()
    try:
        out = CliRunner().invoke(app, ["report", "rollup", "--rebuild"])
        assert out.exit_code == 0, out.output
        assert "roll-ups rebuilt" in out.output
        out = CliRunner().invoke(app, ["report", "--period", "2026-11"])
        assert out.exit_code == 2 and "--unit and --out are required" in out.output
    finally:
        get_settings.cache_clear()
    with api.container.scope() as s:
        assert s.scalar(select(func.sum(ReportDaily.tickets))) == 8


def test_topic_sample_spreads_over_a_large_field(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """A field with more petitions than its share of the sample is read in a fixed pseudo-random order — on
    PostgreSQL too, where the order's arithmetic needs 64-bit integers (it overflowed 32-bit ones)."""
    monkeypatch.setattr(reports, "TOPIC_SAMPLE", 4)
    monkeypatch.setattr(reports, "TOPIC_MIN_SHARE", 1)
    _random_tickets(api, random.Random(3), 10)
    with api.container.scope() as s:
        query = reports.SummaryQuery("TW", reports.today_vn() - timedelta(days=45), reports.today_vn())
        filters = [*query.ticket_filters()]
        n = s.scalar(select(func.count()).select_from(Ticket).where(*filters, Ticket.category == "ha_tang")) or 0
        assert n > 1
        by_category = {"ha_tang": n, "khac": 3 * n}  # a quarter of the sample: one of the n petitions
        first = reports._sample(s, filters, by_category)
        assert 0 < len(first) <= 4
        assert reports._sample(s, filters, by_category) == first  # the same sample on every reload


def test_a_change_between_passes_keeps_its_day_on_the_rollups(api: Api) -> None:
    """A ticket changed after the worker's pass no longer sends its whole day back to the tickets: the day stays on
    the roll-ups, corrected by the facts the ticket was rolled up with and its current ones — and the figures stay
    those of the tickets."""
    from backend.db.rollup_models import ReportTicketFact

    rng = random.Random(21)
    add_official(api.container, "hk.rollup", "00070", "officer")
    add_official(api.container, "hn.rollup", "01", "supervisor")
    ids = _random_tickets(api, rng, 24)
    c = api.container
    with c.scope() as s:
        rollups.refresh(s)
        # the facts kept are those the tickets give, one row per ticket of a rolled-up day
        start, end = reports.today_vn() - timedelta(days=45), reports.today_vn()
        kept = {row.ticket_id: row for row in s.scalars(select(ReportTicketFact))}
        current = dict(rollups.fact_rows(s, [rollups.created_on([(start, end - timedelta(days=1))])], with_ids=True))
        assert set(kept) == set(current) and kept
        for ident, fact in current.items():
            row = kept[ident]
            assert (row.day, row.unit_code, row.category, row.status, row.rating, row.response_centihours) == (
                fact.day,
                fact.unit_code,
                fact.category,
                fact.status,
                fact.rating,
                fact.response,
            )
        actor = s.scalars(select(Official).where(Official.username == "reports.actor")).one()
        changed = [t for t in (s.get(Ticket, i) for i in ids) if t is not None and t.status == "moi"][:2]
        assert len(changed) == 2
        c.ops.reply(s, actor, changed[0], "Đã trả lời.")
        changed[1].unit_code, changed[1].rating, changed[1].updated_at = "79", 4, utcnow()
        s.commit()
        days = {t.created_at.astimezone(VN_TZ).date() for t in changed}
        cover = rollups.coverage(s, start, end)
        assert all(any(a <= d <= b for a, b in cover.rolled) for d in days), (days, cover.rolled)
    _assert_rollups_agree(api, table=False)


def test_rolled_up_counts_are_shared_until_the_next_pass(api: Api) -> None:
    """The roll-ups' counts of a summary are kept in the process for the next askers, and a worker pass that changes
    the roll-ups is seen at once."""
    rng = random.Random(5)
    _random_tickets(api, rng, 12)
    with api.container.scope() as s:
        rollups.refresh(s)
    reports._rolled_cache.clear()
    with api.container.scope() as s:
        first = _summary(s, raw=False, unit="TW")
        assert len(reports._rolled_cache) == 1
        assert _summary(s, raw=False, unit="TW") == first and len(reports._rolled_cache) == 1
    _random_tickets(api, rng, 4)  # on past days
    with api.container.scope() as s:
        rollups.refresh(s, utcnow() + rollups.WATERMARK_MARGIN * 2)
        later = _summary(s, raw=False, unit="TW")
        assert later["total"] == first["total"] + 4
        assert len(reports._rolled_cache) == 2
        assert later == _summary(s, raw=True, unit="TW")
