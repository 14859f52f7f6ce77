"""The admins' NLU workbench API: review queue (majority, ties, accept with an edit, reject), the "unsure" queue,
place aliases, background training jobs (including a failed one), activation refused / forced, rollback, and 403s."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from backend.container import EngineParser
from backend.db.models import AuditLog, Citizen, NluCorrection
from backend.kv import make_kv
from backend.workers.nlu_train import NluTrainWorker
from handlers.ports import TicketDraft
from nlu.aliases import ALIASES_FILE, AliasedLocations, load_aliases
from nlu.location import LocationExtractor
from tests.nlu_small import SMALL, rasa, small_data_dir

from .conftest import Api, add_official

TEXT = "Đèn đường hỏng cả tháng nay, tối đi lại rất nguy hiểm"


def _file(api: Api, text: str, commune: str = "00070", confidence: float = 0.9, user: str = "w-cit-1") -> str:
    with api.container.scope() as s:
        citizen = s.scalars(select(Citizen).where(Citizen.platform_user_id == user)).first()
        if citizen is None:
            citizen = Citizen(channel="webchat", platform_user_id=user, chat_id=user)
            s.add(citizen)
            s.flush()
        draft = TicketDraft(
            text=text, category="ha_tang", category_confidence=confidence, province_code="01", commune_code=commune
        )
        code = api.container.ops.file(s, citizen, draft).code
        s.commit()
        return code


@pytest.fixture
def people(api: Api) -> dict[str, dict[str, str]]:
    add_official(api.container, "xa.hk", "00070")
    add_official(api.container, "xa.cn", "00073")
    add_official(api.container, "tinh.hn", "01", "supervisor")
    add_official(api.container, "quan.tri", "TW", "admin")
    return {u: api.login(u) for u in ("xa.hk", "xa.cn", "tinh.hn", "quan.tri")}


def _pending(api: Api, admin: dict[str, str]) -> list[dict[str, Any]]:
    r = api.client.get("/api/nlu/corrections", params={"status": "pending"}, headers=admin)
    assert r.status_code == 200, r.text
    data: list[dict[str, Any]] = r.json()["data"]
    return data


def test_the_majority_of_officials_wins_and_a_tie_waits_for_an_admin(
    api: Api, people: dict[str, dict[str, str]]
) -> None:
    admin = people["quan.tri"]
    first, second = _file(api, TEXT, "00070"), _file(api, TEXT, "00073")
    third = _file(api, "  đèn đường hỏng cả tháng nay, tối đi lại rất nguy hiểm.", "00070")  # the same text
    post = api.client.post
    assert post(f"/api/tickets/{first}/category", json={"category": "moi_truong"}, headers=people["xa.hk"]).is_success
    assert [c["status"] for c in _pending(api, admin)] == ["pending"]  # one vote: waits

    assert post(
        f"/api/tickets/{second}/category", json={"category": "an_ninh_trat_tu"}, headers=people["xa.cn"]
    ).is_success
    tie = _pending(api, admin)
    assert len(tie) == 2 and {c["corrected"] for c in tie} == {
        "gui_phan_anh/moi_truong",
        "gui_phan_anh/an_ninh_trat_tu",
    }

    r = post(f"/api/tickets/{third}/category", json={"category": "moi_truong"}, headers=people["tinh.hn"])
    assert r.is_success
    assert _pending(api, admin) == []
    accepted = api.client.get("/api/nlu/corrections?status=accepted", headers=admin).json()
    assert accepted["count"] == 3
    assert {(c["label"], c["reviewer"]) for c in accepted["data"]} == {("gui_phan_anh/moi_truong", "majority")}


def test_accept_with_an_edited_label_reject_and_bad_requests(api: Api, people: dict[str, dict[str, str]]) -> None:
    admin = people["quan.tri"]
    one, two = _file(api, "Nước máy có mùi lạ mấy hôm nay"), _file(api, "Cống bốc mùi hôi cả ngõ")
    api.client.post(f"/api/tickets/{one}/category", json={"category": "moi_truong"}, headers=people["xa.hk"])
    api.client.post(f"/api/tickets/{two}/category", json={"category": "giao_duc"}, headers=people["xa.hk"])
    by_text = {c["text"]: c for c in _pending(api, admin)}
    water, drain = by_text["Nước máy có mùi lạ mấy hôm nay"], by_text["Cống bốc mùi hôi cả ngõ"]
    assert water["official"] == "xa.hk" and water["kind"] == "category" and water["created_at"]

    bad = api.client.post(f"/api/nlu/corrections/{water['id']}/accept", json={"label": "khong_co"}, headers=admin)
    assert bad.status_code == 422 and "Nhãn" in bad.json()["detail"]
    r = api.client.post(f"/api/nlu/corrections/{water['id']}/accept", json={"label": "y_te"}, headers=admin)
    assert r.status_code == 200 and r.json()["label"] == "gui_phan_anh/y_te" and r.json()["reviewer"] == "quan.tri"
    again = api.client.post(f"/api/nlu/corrections/{water['id']}/reject", headers=admin)
    assert again.status_code == 409  # an admin decided it already: nothing changes
    r = api.client.post(f"/api/nlu/corrections/{drain['id']}/reject", headers=admin)
    assert r.status_code == 200 and r.json()["status"] == "rejected" and r.json()["label"] is None
    assert api.client.get("/api/nlu/corrections?status=rejected", headers=admin).json()["count"] == 1
    assert api.client.get("/api/nlu/corrections?status=bogus", headers=admin).status_code == 422
    assert api.client.post("/api/nlu/corrections/999999/accept", headers=admin).status_code == 404
    with api.container.scope() as s:
        row = s.get(NluCorrection, water["id"])
        assert row is not None and row.status == "accepted" and row.label == "gui_phan_anh/y_te"


def test_not_a_petition_and_place_fixes_are_recorded_and_an_accepted_place_becomes_an_alias(
    api: Api, people: dict[str, dict[str, str]]
) -> None:
    admin, hk = people["quan.tri"], people["xa.hk"]
    hello = _file(api, "alo alo có ai không")
    r = api.client.post(f"/api/tickets/{hello}/not-petition", headers=hk)
    assert r.status_code == 200, r.text
    code = _file(api, "Đường vào thôn Đông Hạ ngập sâu mỗi khi mưa")
    assert api.client.post(f"/api/tickets/{code}/place", json={"commune_code": "99999"}, headers=hk).status_code == 422
    wrong_name = {"commune_code": "00073", "place_name": "xóm Bãi"}
    assert api.client.post(f"/api/tickets/{code}/place", json=wrong_name, headers=hk).status_code == 422
    r = api.client.post(
        f"/api/tickets/{code}/place", json={"commune_code": "00073", "place_name": "thôn Đông Hạ"}, headers=hk
    )
    assert r.status_code == 200 and r.json()["unit"]["code"] == "00070"  # the ticket stays with its committee

    kinds = {c["kind"]: c for c in _pending(api, admin)}
    assert kinds["not_petition"]["corrected"] == "ngoai_pham_vi"
    place = kinds["place"]
    assert place["text"] == "thôn Đông Hạ" and place["corrected"] == "00073" and place["predicted"] == "00070"
    r = api.client.post(f"/api/nlu/corrections/{place['id']}/accept", headers=admin)
    assert r.status_code == 200, r.text

    aliases = api.container.settings.model_dir / ALIASES_FILE
    assert load_aliases(aliases) == {"thôn Đông Hạ": "00073"}
    found = AliasedLocations(LocationExtractor(), aliases).extract("Cống vỡ ở thon dong ha từ tuần trước")
    assert found is not None and found.commune is not None and found.commune.code == "00073"
    assert found.matched_text == "thon dong ha"


def test_the_unsure_queue_and_one_click_labels(api: Api, people: dict[str, dict[str, str]]) -> None:
    admin = people["quan.tri"]
    unsure = _file(api, "Chuyện ở khu phố tôi không biết gửi đâu", confidence=0.31)
    _file(api, "Đèn đường hỏng", confidence=0.95)
    often = _file(api, TEXT, confidence=0.9)
    api.client.post(f"/api/tickets/{often}/category", json={"category": "moi_truong"}, headers=people["xa.hk"])
    api.client.post(f"/api/tickets/{often}/category", json={"category": "an_ninh_trat_tu"}, headers=people["tinh.hn"])

    queue = api.client.get("/api/nlu/review", headers=admin).json()
    assert [i["code"] for i in queue["data"]] == [unsure, often]  # least sure first
    assert queue["data"][1]["corrections"] == 2

    assert api.client.post(f"/api/nlu/review/{unsure}/label", json={"label": "xyz"}, headers=admin).status_code == 422
    assert (
        api.client.post("/api/nlu/review/PA-0000-0000/label", json={"label": "khac"}, headers=admin).status_code == 404
    )
    r = api.client.post(f"/api/nlu/review/{unsure}/label", json={"label": "khac"}, headers=admin)
    assert r.status_code == 201 and r.json()["status"] == "accepted" and r.json()["label"] == "gui_phan_anh/khac"
    assert [i["code"] for i in api.client.get("/api/nlu/review", headers=admin).json()["data"]] == [often]


# -- training jobs and models ---------------------------------------------------------------------------------------
@pytest.fixture
def small_data(api: Api, tmp_path: Path) -> Path:
    """Tiny training and held-out data: training takes seconds."""
    return small_data_dir(api.container.settings.data_dir, tmp_path / "data")


def _work(api: Api, data: Path) -> int | None:
    """One round of the nlu-train worker (as `gopy worker` runs it), with its own Redis client for this loop."""
    s = api.container.settings

    async def once() -> int | None:
        kv = make_kv(s.redis_url, s.redis_prefix)
        if kv.embedded:
            kv = api.container.kv  # the in-process stand-in is per container: share the app's
        try:
            return await NluTrainWorker(api.container.scope, kv, s.database_url, s.model_dir, data).run_once()
        finally:
            if kv is not api.container.kv:
                await kv.aio.aclose()
                kv.close()

    return asyncio.run(once())


def _train(api: Api, admin: dict[str, str], data: Path) -> dict[str, Any]:
    r = api.client.post("/api/nlu/train", headers=admin)
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]
    queued = api.client.get(f"/api/nlu/jobs/{job_id}", headers=admin).json()
    assert queued["status"] == "queued" and queued["progress"] == 0
    assert _work(api, data) == job_id
    job: dict[str, Any] = api.client.get(f"/api/nlu/jobs/{job_id}", headers=admin).json()
    return job


def test_training_jobs_activation_refusal_forced_activation_and_rollback(
    api: Api, people: dict[str, dict[str, str]], small_data: Path
) -> None:
    admin = people["quan.tri"]
    first = _train(api, admin, small_data)
    assert first["status"] == "done", first["log"]
    assert first["progress"] == 1.0 and first["version"] and len(first["log"]) >= 4
    evaluation = first["evaluation"]
    assert isinstance(evaluation, dict)
    assert set(evaluation["files"]) == {"heldout", "realworld", "corrections"}
    assert evaluation["files"]["realworld"]["new"]["category_accuracy"] == 1.0
    assert evaluation["files"]["realworld"]["active"] is None  # nothing was active yet
    png = api.client.get(str(first["confusion_matrix"]), headers=admin)
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")

    v1 = str(first["version"])
    assert api.client.post(f"/api/nlu/models/{v1}/activate", headers=admin).status_code == 200
    assert api.client.post(f"/api/nlu/models/{v1}/activate", headers=admin).status_code == 409  # already active

    # officials' bad habits: the next training data swaps the two categories; the model gets worse
    swapped = {
        "gui_phan_anh/ha_tang": SMALL["gui_phan_anh/moi_truong"],
        "gui_phan_anh/moi_truong": SMALL["gui_phan_anh/ha_tang"],
    }
    (small_data / "nlu" / "seed" / "small.yml").write_text(rasa({**SMALL, **swapped}), encoding="utf-8")
    second = _train(api, admin, small_data)
    assert second["status"] == "done", second["log"]
    v2 = str(second["version"])
    files = second["evaluation"]["files"]
    assert files["realworld"]["active"]["category_accuracy"] == 1.0
    assert files["realworld"]["new"]["category_accuracy"] < 0.5
    assert files["heldout"]["labels"]["gui_phan_anh/ha_tang"]["delta"] < 0
    assert second["evaluation"]["changed"]

    models = api.client.get("/api/nlu/models", headers=admin).json()
    assert [m["version"] for m in models["data"]] == [v2, v1] and [m["active"] for m in models["data"]] == [False, True]
    assert models["data"][0]["created_by"] == "quan.tri" and models["data"][0]["examples"] == 24

    refused = api.client.post(f"/api/nlu/models/{v2}/activate", headers=admin)
    assert refused.status_code == 409 and "giảm" in refused.json()["detail"]
    no_reason = api.client.post(f"/api/nlu/models/{v2}/activate", json={"force": True}, headers=admin)
    assert no_reason.status_code == 422
    forced = api.client.post(
        f"/api/nlu/models/{v2}/activate", json={"force": True, "reason": "thử nghiệm có kiểm soát"}, headers=admin
    )
    assert forced.status_code == 200 and forced.json() == {"version": v2, "previous": v1, "forced": True}
    parser = EngineParser(api.container.settings.model_dir, small_data, bootstrap=False)
    api.container.parser = parser
    assert api.client.post("/api/nlu/parse", json={"text": "Đèn đường hỏng"}).json()["model"] == v2

    rollback = api.client.post(f"/api/nlu/models/{v1}/activate", headers=admin)  # back to the previous one
    assert rollback.status_code == 200 and rollback.json()["previous"] == v2
    parser.reload()
    assert api.client.post("/api/nlu/parse", json={"text": "Đèn đường hỏng"}).json()["model"] == v1
    assert api.client.post("/api/nlu/models/khong-co/activate", headers=admin).status_code == 404
    with api.container.scope() as s:
        trail = s.scalars(select(AuditLog).where(AuditLog.action == "activate").order_by(AuditLog.id)).all()
        assert [(a.object_id, a.detail["force"]) for a in trail] == [(v1, False), (v2, True), (v1, False)]
        assert trail[1].detail["reason"] == "thử nghiệm có kiểm soát"


def test_a_job_on_corrupt_data_fails_with_the_error_in_its_log(
    api: Api, people: dict[str, dict[str, str]], small_data: Path
) -> None:
    admin = people["quan.tri"]
    (small_data / "nlu" / "corrections").mkdir()
    (small_data / "nlu" / "corrections" / "corrections.yml").write_text("nlu: [unclosed\n", encoding="utf-8")
    job = _train(api, admin, small_data)
    assert job["status"] == "failed" and job["version"] is None
    assert "corrections.yml" in str(job["error"]) and any("Lỗi" in line for line in job["log"])
    assert api.client.get("/api/nlu/models", headers=admin).json()["count"] == 0


def test_one_job_at_a_time_across_processes(api: Api, people: dict[str, dict[str, str]], small_data: Path) -> None:
    admin = people["quan.tri"]
    job_id = api.client.post("/api/nlu/train", headers=admin).json()["id"]
    assert api.client.post("/api/nlu/train", headers=admin).status_code == 409  # one is already waiting
    lock = api.container.kv.key("nlu", "train")
    api.container.kv.sync.set(lock, "another-process", ex=60)
    assert _work(api, small_data) is None  # another process is training: this one waits
    assert api.client.get(f"/api/nlu/jobs/{job_id}", headers=admin).json()["status"] == "queued"
    api.container.kv.sync.delete(lock)
    assert api.client.get("/api/nlu/jobs/999999", headers=admin).status_code == 404


WORKBENCH_ROUTES = [
    ("get", "/api/nlu/corrections"),
    ("post", "/api/nlu/corrections/1/accept"),
    ("post", "/api/nlu/corrections/1/reject"),
    ("get", "/api/nlu/review"),
    ("post", "/api/nlu/review/PA-0000-0000/label"),
    ("post", "/api/nlu/train"),
    ("get", "/api/nlu/jobs/1"),
    ("get", "/api/nlu/jobs/1/confusion.png"),
    ("get", "/api/nlu/models"),
    ("post", "/api/nlu/models/x/activate"),
]


def test_officers_and_supervisors_get_403_on_every_workbench_route(api: Api, people: dict[str, dict[str, str]]) -> None:
    for user in ("xa.hk", "tinh.hn"):
        for method, path in WORKBENCH_ROUTES:
            body = {"label": "khac"} if path.endswith("/label") else None
            r = api.client.request(method, path, headers=people[user], json=body)
            assert r.status_code == 403, (user, path, r.status_code)
            assert "quản trị" in r.json()["detail"]
    assert api.client.get("/api/nlu/models").status_code == 401
    with api.container.scope() as s:
        assert not s.scalars(select(AuditLog).where(AuditLog.object_type.like("nlu%"))).all()  # nothing happened


def _console_login(api: Api, username: str) -> str:
    r = api.client.post(
        "/console/login", data={"username": username, "password": "mat-khau-123"}, follow_redirects=False
    )
    assert r.status_code == 303
    page = api.client.get("/console/nlu")
    match = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
    assert match
    return match.group(1)


def test_the_console_page_is_for_admins_and_its_forms_answer_the_script(
    api: Api, people: dict[str, dict[str, str]]
) -> None:
    code = _file(api, "Nước máy có mùi lạ mấy hôm nay")
    api.client.post(f"/api/tickets/{code}/category", json={"category": "moi_truong"}, headers=people["xa.hk"])
    pending = _pending(api, people["quan.tri"])[0]

    csrf = _console_login(api, "tinh.hn")  # a supervisor
    page = api.client.get("/console/nlu")
    assert page.status_code == 403 and "Chỉ quản trị viên" in page.text and 'href="/console/nlu"' not in page.text
    assert api.client.post("/console/nlu/train", data={"csrf": csrf}).status_code == 403
    accept = f"/console/nlu/corrections/{pending['id']}/accept"
    assert api.client.post(accept, data={"csrf": csrf}).status_code == 403
    assert api.client.get("/console/nlu/jobs/1.json").status_code == 403

    csrf = _console_login(api, "quan.tri")
    page = api.client.get("/console/nlu")
    assert page.status_code == 200 and "Nước máy có mùi lạ" in page.text and 'href="/console/nlu"' in page.text
    as_script = {"Accept": "application/json"}
    assert api.client.post(accept, data={"csrf": "0" * 64}, headers=as_script).status_code == 403  # bad CSRF token
    bad = api.client.post(accept, data={"csrf": csrf, "label": "khong_co"}, headers=as_script)
    assert bad.status_code == 422 and "Nhãn" in bad.json()["error"]
    ok = api.client.post(accept, data={"csrf": csrf, "label": "gui_phan_anh/y_te"}, headers=as_script)
    assert ok.status_code == 200 and ok.json() == {"ok": True}
    assert _pending(api, people["quan.tri"]) == []

    r = api.client.post("/console/nlu/train", data={"csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/console/nlu?msg=nlu_train_queued&job=")
    job_id = int(r.headers["location"].split("job=")[1].split("#")[0])
    polled = api.client.get(f"/console/nlu/jobs/{job_id}.json").json()
    assert polled["status"] == "queued" and polled["status_name"] == "Đang chờ" and polled["progress"] == 0
    refused = api.client.post("/console/nlu/models/khong-co/activate", data={"csrf": csrf})
    assert refused.status_code == 404 and "Không có mô hình" in refused.text
