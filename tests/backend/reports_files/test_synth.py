"""`gopy dev synth`: realistic synthetic tickets in bulk (COPY on PostgreSQL, executemany on SQLite)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from backend.db.models import Citizen, Message, Ticket, TicketEvent
from backend.domain.taxonomy import CATEGORIES
from backend.services.reports import summarize
from backend.services.synth import SynthError, synthesize, training_texts

from .conftest import Api
from .helpers import file_ticket

NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[3]


def test_synth_counts_distributions_and_timing(api: Api) -> None:
    n = 1500
    result = synthesize(api.container.engine, n, seed=7, months=3, now=NOW)
    assert result.tickets == n and result.messages == n
    with api.container.scope() as s:
        assert (s.scalar(select(func.count()).select_from(Ticket)) or 0) == n
        assert (s.scalar(select(func.count()).select_from(TicketEvent)) or 0) == result.events >= 3 * n
        assert (s.scalar(select(func.count()).select_from(Message)) or 0) == n
        assert (s.scalar(select(func.count()).select_from(Citizen)) or 0) == result.citizens
        tickets = s.scalars(select(Ticket)).unique().all()
        statuses = Counter(t.status for t in tickets)
        categories = Counter(t.category for t in tickets)
        provinces = Counter(t.province_code for t in tickets)
        first, last = min(t.created_at for t in tickets), max(t.created_at for t in tickets)
        assert first >= NOW - timedelta(days=93) and last < NOW
        assert all(
            t.deadline is not None and t.accept_deadline is not None and t.deadline > t.created_at for t in tickets
        )
        # plausible handling: most answered or closed, some still open, some rejected, some overdue and urgent
        assert statuses["da_dong"] + statuses["da_tra_loi"] > n * 0.6
        assert statuses["moi"] + statuses["da_tiep_nhan"] + statuses["dang_xu_ly"] > 0 and statuses["tu_choi"] > 0
        overdue = [t for t in tickets if t.overdue]
        assert 0 < len(overdue) < n * 0.3 and result.overdue == len(overdue)
        assert sum(t.urgent for t in tickets) == result.urgent > 0
        assert sum(t.category == "thien_tai_khan_cap" and t.urgent for t in tickets) > 0
        # ratings only on answered tickets, 1-5, mostly good
        rated = [t.rating for t in tickets if t.rating is not None]
        assert rated and all(1 <= r <= 5 for r in rated) and sum(rated) / len(rated) > 3.0
        assert all(t.status in ("da_tra_loi", "da_dong") for t in tickets if t.rating is not None)
        # every field, infrastructure the most common; texts from the training data
        assert set(categories) == set(CATEGORIES) and categories.most_common(1)[0][0] == "ha_tang"
        known = {text for items in training_texts(ROOT / "data" / "nlu").values() for text in items}
        assert all(t.text in known for t in tickets[:200])
        # places weighted by the number of communes: Hà Nội (2 communes in this tree) about twice Hồ Chí Minh (1)
        assert 1.5 < provinces["01"] / provinces["79"] < 2.6
        assert Counter(t.unit_code for t in tickets)["TW"] == categories["chinh_sach_phap_luat"]
        # the summary reads the same numbers
        summary = summarize(s, "TW", (NOW - timedelta(days=120)).date(), NOW.date(), topics=False)
        assert summary.total == n and summary.by_status == dict(statuses)
        assert summary.satisfaction.count == len(rated)
    # ids and sequences continue: a real ticket can be filed afterwards, and synth can run again
    code = file_ticket(api.container, "Đèn đường hỏng ở Hoàn Kiếm", "01", "00070", user="after-synth")
    assert code.startswith("PA-")
    again = synthesize(api.container.engine, 10, seed=7, months=3, now=NOW)
    assert again.tickets == 10
    with api.container.scope() as s:
        assert (s.scalar(select(func.count()).select_from(Ticket)) or 0) == n + 11
        assert len(set(s.scalars(select(Ticket.code)))) == n + 11


def test_synth_is_reproducible_and_refuses_nonsense(api: Api, tmp_path: Path) -> None:
    engine = api.container.engine
    with pytest.raises(SynthError):
        synthesize(engine, 0)
    with pytest.raises(SynthError):
        synthesize(engine, 5, months=0)
    empty = tmp_path / "data"
    (empty / "nlu").mkdir(parents=True)
    with pytest.raises(SynthError, match="no training sentences"):
        synthesize(engine, 5, data_dir=empty)
    a = synthesize(engine, 50, seed=11, now=NOW)
    with api.container.scope() as s:
        first = [(t.text, t.unit_code, t.status) for t in s.scalars(select(Ticket).order_by(Ticket.id)).unique()]
    b = synthesize(engine, 50, seed=11, now=NOW)
    with api.container.scope() as s:
        second = [(t.text, t.unit_code, t.status) for t in s.scalars(select(Ticket).order_by(Ticket.id)).unique()][50:]
    assert first == second and a.by_category == b.by_category


def test_gopy_dev_synth_command(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    from backend.cli import app
    from backend.config import get_settings

    monkeypatch.setenv("GOPY_DATABASE_URL", api.container.engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("GOPY_ENVIRONMENT", "test")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["dev", "synth", "--tickets", "120", "--seed", "3", "--months", "2"])
        assert result.exit_code == 0, result.output
        assert "added 120 tickets" in result.output
    finally:
        get_settings.cache_clear()
    with api.container.scope() as s:
        assert (s.scalar(select(func.count()).select_from(Ticket)) or 0) == 120
