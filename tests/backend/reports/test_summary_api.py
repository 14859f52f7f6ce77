"""GET /api/reports/summary on a known data set: scope, defaults, every field, agreement with /api/tickets, topics."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select

from backend.db.models import Ticket
from backend.db.report_models import TopicAlert
from backend.db.report_store_models import ConsoleNotice
from backend.services import reports

from .conftest import Api, add_official, file, vn

NOV = {"from": "2026-11-01", "to": "2026-11-30"}


def known_data(api: Api) -> dict[str, str]:
    """Six tickets in November 2026 (Vietnam time) and two just outside it."""
    t = {}
    t["t1"] = file(
        api,
        "Đường hỏng",
        unit="00070",
        created=vn(2026, 11, 3),
        deadline=vn(2026, 11, 10),
        answered=vn(2026, 11, 5),
        status="da_tra_loi",
        rating=5,
    ).code
    t["t2"] = file(
        api,
        "Khói bụi",
        unit="00070",
        category="moi_truong",
        channel="telegram",
        created=vn(2026, 11, 4),
        deadline=vn(2026, 11, 6),
        answered=vn(2026, 11, 8),
        status="da_dong",
        overdue=True,
        rating=2,
    ).code
    t["t3"] = file(
        api, "Cháy chợ", unit="00073", channel="zalo", urgent=True, created=vn(2026, 11, 10), deadline=vn(2026, 11, 12)
    ).code  # open, past its deadline: overdue
    t["t4"] = file(
        api,
        "Bệnh viện",
        unit="01",
        category="y_te",
        created=vn(2026, 11, 20),
        responded=vn(2026, 11, 20, 12),
        status="dang_xu_ly",
    ).code
    t["t5"] = file(
        api,
        "Đèn đường",
        unit="26734",
        created=vn(2026, 11, 15),
        deadline=vn(2026, 11, 20),
        answered=vn(2026, 11, 16),
        status="da_tra_loi",
    ).code
    t["t7"] = file(api, "Cống", unit="00070", created=vn(2026, 11, 30, 23, 30)).code  # last half hour of Nov
    t["t6"] = file(api, "Cũ", unit="00070", created=vn(2026, 10, 25)).code
    t["t8"] = file(api, "Mới", unit="00070", created=vn(2026, 12, 1, 0, 30)).code  # 30 Nov 17:30 UTC: December
    return t


def get(api: Api, headers: dict[str, str], **params: Any) -> Any:
    return api.client.get("/api/reports/summary", params=params, headers=headers)


def test_every_field_on_a_known_data_set(api: Api) -> None:
    known_data(api)
    add_official(api.container, "tw.admin", "TW", "admin")
    r = get(api, api.login("tw.admin"), unit="TW", **NOV)
    assert r.status_code == 200, r.text
    s = r.json()
    assert (s["unit_code"], s["start"], s["end"]) == ("TW", "2026-11-01", "2026-11-30")
    assert s["total"] == 6
    assert s["by_status"] == {"da_tra_loi": 2, "da_dong": 1, "moi": 2, "dang_xu_ly": 1}
    assert s["by_category"] == {"ha_tang": 4, "moi_truong": 1, "y_te": 1}
    assert s["by_channel"] == {"webchat": 4, "telegram": 1, "zalo": 1}
    assert (s["urgent"], s["overdue"]) == (1, 2)
    assert (s["answered"], s["answered_on_time"], s["on_time_rate"]) == (3, 2, 0.6667)
    assert s["median_first_response_hours"] == 36.0  # 2, 24, 48, 96 hours
    assert s["satisfaction"] == {"count": 2, "mean": 3.5, "distribution": {"1": 0, "2": 1, "3": 0, "4": 0, "5": 1}}
    children = {c["code"]: c for c in s["by_child_unit"]}
    assert set(children) == {"01", "79"}
    assert children["01"] | {"name": ""} == {
        "code": "01",
        "name": "",
        "total": 5,
        "overdue": 2,
        "answered": 2,
        "on_time": 1,
        "on_time_rate": 0.5,
    }
    assert (children["79"]["total"], children["79"]["on_time_rate"]) == (1, 1.0)
    assert [c["code"] for c in s["by_child_unit"]] == ["01", "79"]  # ranked by volume
    assert s["trend_granularity"] == "day" and len(s["trend"]) == 30
    days = {p["start"]: p for p in s["trend"]}
    assert days["2026-11-04"] == {"start": "2026-11-04", "total": 1, "by_category": {"moi_truong": 1}}
    assert days["2026-11-30"]["total"] == 1 and days["2026-11-01"]["total"] == 0
    assert sum(p["total"] for p in s["trend"]) == 6


def test_province_level_children_are_communes_and_filters_apply(api: Api) -> None:
    known_data(api)
    add_official(api.container, "hn.sup", "01", "supervisor")
    h = api.login("hn.sup")
    s = get(api, h, **NOV).json()  # default unit: the official's own
    assert (s["unit_code"], s["total"]) == ("01", 5)
    children = {c["code"]: (c["total"], c["overdue"]) for c in s["by_child_unit"]}
    assert children == {"00070": (3, 1), "00073": (1, 1)}
    assert get(api, h, category="ha_tang", **NOV).json()["total"] == 3
    assert get(api, h, channel="telegram", **NOV).json()["total"] == 1
    commune = get(api, h, unit="00070", **NOV).json()
    assert (commune["total"], commune["by_child_unit"]) == (3, [])
    # a long period is shown per week (Mondays)
    year = get(api, h, **{"from": "2026-01-01", "to": "2026-12-31"}).json()
    assert year["trend_granularity"] == "week"
    assert all(date.fromisoformat(p["start"]).weekday() == 0 for p in year["trend"])
    assert sum(p["total"] for p in year["trend"]) == year["total"] == 7


def test_scope_a_province_never_sees_another_province(api: Api) -> None:
    known_data(api)
    add_official(api.container, "hcm.sup", "79", "supervisor")
    add_official(api.container, "hk.officer", "00070", "officer")
    h = api.login("hcm.sup")
    for unit in ("01", "00070", "TW", "99", "nope"):
        r = get(api, h, unit=unit, **NOV)
        assert r.status_code == 404, (unit, r.text)
    assert get(api, h, unit="26734", **NOV).json()["total"] == 1
    assert get(api, api.login("hk.officer"), unit="01", **NOV).status_code == 404
    assert get(api, api.login("hk.officer"), **NOV).json()["total"] == 3
    assert api.client.get("/api/reports/summary").status_code == 401


def test_an_officer_counts_only_their_own_units_tickets(api: Api) -> None:
    known_data(api)
    add_official(api.container, "hn.officer", "01", "officer")
    s = get(api, api.login("hn.officer"), **NOV).json()
    assert s["total"] == 1 and s["by_category"] == {"y_te": 1}  # the ticket handled by the province itself
    assert s["by_child_unit"] == []  # nothing of the communes below


def test_defaults_and_bad_periods(api: Api) -> None:
    add_official(api.container, "tw.admin", "TW", "admin")
    h = api.login("tw.admin")
    today = reports.today_vn()
    s = get(api, h).json()
    assert (s["unit_code"], s["end"], s["start"]) == ("TW", str(today), str(today - timedelta(days=29)))
    only_to = get(api, h, to="2026-06-30").json()
    assert (only_to["start"], only_to["end"]) == ("2026-06-01", "2026-06-30")
    for params in (
        {"from": "2026-13-01"},
        {"from": "2026-11-30", "to": "2026-11-01"},
        {"from": "2024-01-01", "to": "2026-01-01"},
        {"to": "hôm qua"},
        {"category": "khong_co"},
        {"to": "9999-12-31"},  # the day after would overflow: refused, not a 500
        {"from": "0001-01-01"},
        {"to": "0001-01-05"},
    ):
        r = get(api, h, **params)
        assert r.status_code == 422, (params, r.text)
        assert isinstance(r.json()["detail"], list)  # shaped as the OpenAPI schema documents


def test_totals_agree_with_the_ticket_list(api: Api) -> None:
    known_data(api)
    for username, unit, role in (
        ("tw.admin", "TW", "admin"),
        ("hn.sup", "01", "supervisor"),
        ("hk", "00070", "officer"),
    ):
        add_official(api.container, username, unit, role)
        h = api.login(username)
        everything = {"from": "2026-10-01", "to": str(reports.today_vn())}
        s = get(api, h, **everything).json()
        listed = api.client.get("/api/tickets", params={"limit": 1}, headers=h).json()["count"]
        assert s["total"] == listed, username
        for status, n in s["by_status"].items():
            assert api.client.get("/api/tickets", params={"status": status}, headers=h).json()["count"] == n
        assert sum(c["total"] for c in s["by_child_unit"]) <= s["total"]


def topic_data(api: Api) -> None:
    """Flooding on Lê Lợi jumps (2 → 12); rubbish at the market grows slowly (5 → 12); a few unrelated ones."""
    streets = ("Lê Lợi", "Lê Lợi đoạn chợ", "Lê Lợi gần trường")
    for i in range(12):
        file(
            api,
            f"Đường {streets[i % 3]} ngập nước sau mưa, cống thoát nước bị tắc, xe máy chết máy",
            unit="26734",
            created=vn(2026, 11, 10 + i % 15),
        )
        file(
            api,
            f"Rác thải ùn ứ ở chợ Bến Thành, bốc mùi hôi thối, xe rác không thu gom {i}",
            unit="26734",
            category="moi_truong",
            created=vn(2026, 11, 5 + i),
        )
    for i in range(2):
        file(api, "Đường Lê Lợi ngập nước sau mưa, cống thoát nước bị tắc", unit="26734", created=vn(2026, 10, 10 + i))
    for i in range(5):
        file(
            api,
            "Rác thải ùn ứ ở chợ Bến Thành bốc mùi hôi thối, xe rác không thu gom",
            unit="26734",
            category="moi_truong",
            created=vn(2026, 10, 5 + i),
        )
    file(api, "Trường học thiếu giáo viên tiếng Anh", unit="26734", category="giao_duc", created=vn(2026, 11, 20))
    file(api, "Học phí tăng quá cao so với năm ngoái", unit="26734", category="giao_duc", created=vn(2026, 11, 21))


def test_a_topic_that_jumps_is_flagged_and_the_unit_notified_once(api: Api) -> None:
    topic_data(api)
    add_official(api.container, "hcm.sup", "79", "supervisor")
    h = api.login("hcm.sup")
    s = get(api, h, **NOV).json()
    topics = {t["category"]: t for t in s["topics"]}
    flood, rubbish = topics["ha_tang"], topics["moi_truong"]
    assert (flood["count"], flood["previous"], flood["growth"], flood["jump"]) == (12, 2, 6.0, True)
    assert any(k in ("ngập nước", "thoát nước", "lê lợi", "cống thoát") for k in flood["keywords"]), flood
    assert flood["label"].startswith("Hạ tầng: ")
    assert (rubbish["count"], rubbish["previous"], rubbish["jump"]) == (12, 5, False)  # 12 < 3 × 5
    assert s["topics"][0]["jump"] is True  # flagged topics first
    with api.container.scope() as db:
        codes = set(db.scalars(select(Ticket.code).where(Ticket.text.like("%Lê Lợi%ngập%"))))
        assert 1 <= len(flood["examples"]) <= 3 and set(flood["examples"]) <= codes
        alerts = db.scalars(select(TopicAlert)).all()
        assert [(a.unit_code, a.count, a.previous) for a in alerts] == [("79", 12, 2)]
        notices = db.scalars(select(ConsoleNotice).where(ConsoleNotice.kind == "topic_jump")).all()
        assert len(notices) == 1 and notices[0].unit_code == "79"
        assert "tăng đột biến" in notices[0].text and "12 phản ánh" in notices[0].text
    get(api, h, **NOV)  # asked again: no second notice
    with api.container.scope() as db:
        assert db.scalar(select(func.count()).select_from(ConsoleNotice)) == 1
        assert db.scalar(select(func.count()).select_from(TopicAlert)) == 1
