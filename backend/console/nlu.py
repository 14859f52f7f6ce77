"""The admins' NLU workbench in the console (``/console/nlu``), over :class:`backend.services.nlu_workbench.Workbench`.

One page: the corrections waiting for review and the messages the model was unsure about (labelled from the keyboard:
``j``/``k`` move, number keys pick a label, ``Enter`` accepts, ``x`` rejects — ``static/nlu.js``), the train button
with a live progress bar (the script polls ``/console/nlu/jobs/{id}.json``), the latest evaluation (tables, the
confusion-matrix picture, the changed predictions), the models with activate / roll back, and the audit trail.
Every form works without the script too. Officers and supervisors get a Vietnamese 403 page; the nav shows no link.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from backend.api.deps import SessionDep, SettingsDep, WorkbenchDep
from backend.console.messages import Banner, banner
from backend.console.routes import ConsoleOfficial, _check_csrf, _page
from backend.db.models import Official
from backend.domain.taxonomy import CATEGORIES
from backend.services import nlu_review
from backend.services.nlu_workbench import Workbench, WorkbenchError, job_dict
from nlu.vocab import FEEDBACK_INTENT

router = APIRouter(prefix="/console/nlu", include_in_schema=False)
STATIC = Path(__file__).parent / "static"
ASSETS = {"nlu.js": "text/javascript; charset=utf-8", "nlu.css": "text/css; charset=utf-8"}
Field = Annotated[str, Form(max_length=500)]

# The labels an admin picks from, numbered for the keyboard (1–9, 0 = 10, then two digits).
LABELS: list[tuple[str, str]] = [
    *((f"{FEEDBACK_INTENT}/{code}", name) for code, (name, _) in CATEGORIES.items()),
    (nlu_review.NOT_PETITION_LABEL, "Không phải phản ánh"),
]
KIND_NAMES = {"category": "Lĩnh vực", "not_petition": "Không phải phản ánh", "place": "Địa bàn"}
STATUS_NAMES = {"queued": "Đang chờ", "running": "Đang huấn luyện", "done": "Hoàn tất", "failed": "Thất bại"}
FILE_NAMES = {
    "heldout": "Bộ kiểm thử của nhóm",
    "realworld": "Bộ kiểm thử thực tế",
    "corrections": "1/10 sửa đổi đã duyệt (giữ lại)",
}
ACTION_NAMES = {"activate": "Kích hoạt mô hình", "train": "Yêu cầu huấn luyện"}


def label_name(label: str | None) -> str:
    return next((name for code, name in LABELS if code == label), label or "—")


def _when(value: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if value else None
    except ValueError:
        return None


def _render(
    request: Request,
    session: Session,
    official: Official,
    bench: Workbench,
    shown: Banner | None = None,
    status: int = 200,
    job_id: int | None = None,
) -> HTMLResponse:
    if official.role != "admin":
        page = _page(request, "nlu.html", official=official, forbidden=True, banner=banner("nlu_forbidden"))
        page.status_code = 403
        return page
    jobs = bench.jobs(session)
    current = next((j for j in jobs if j["id"] == job_id), None) or next(iter(jobs), None)
    report = next((j for j in jobs if j["status"] == "done"), None)
    models = bench.models(session)
    for m in models:
        m["created"] = _when(m["created_at"])
    trail = bench.audit_trail(session)
    for t in trail:
        t["when"] = _when(t["at"])
    page = _page(
        request,
        "nlu.html",
        official=official,
        forbidden=False,
        banner=shown,
        pending=bench.corrections(session, official, "pending", limit=100),
        unsure=bench.unsure(session, official, limit=50),
        labels=LABELS,
        label_name=label_name,
        kind_names=KIND_NAMES,
        status_names=STATUS_NAMES,
        file_names=FILE_NAMES,
        action_names=ACTION_NAMES,
        job=current,
        busy=current is not None and current["status"] in ("queued", "running"),
        report=report,
        models=models,
        previous=bench.previous_version(),
        trail=trail,
        when=_when,
    )
    page.status_code = status
    return page


@dataclass(frozen=True)
class _Form:
    """A posted form of the page: its CSRF token checked; :meth:`act` runs the action for admins only."""

    request: Request
    session: Session
    official: Official
    bench: Workbench

    def act(self, action: Callable[[], object], done: str, anchor: str) -> Response:
        """JSON for the script, else back to the page (a refusal's reason shown on it, with its status)."""
        if self.official.role != "admin":
            return _render(self.request, self.session, self.official, self.bench)
        wants_json = "application/json" in self.request.headers.get("accept", "")
        try:
            action()
        except WorkbenchError as exc:
            if wants_json:
                return JSONResponse({"error": exc.reason}, status_code=exc.status)
            shown = banner("nlu_refused", reason=exc.reason)
            return _render(self.request, self.session, self.official, self.bench, shown, exc.status)
        if wants_json:
            return JSONResponse({"ok": True})
        return RedirectResponse(f"/console/nlu?msg={done}#{anchor}", status_code=303)


def _form(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    bench: WorkbenchDep,
    official: ConsoleOfficial,
    csrf: Field = "",
) -> _Form:
    _check_csrf(request, settings, csrf)
    return _Form(request, session, official, bench)


FormDep = Annotated[_Form, Depends(_form)]


@router.get("", response_class=HTMLResponse)
def nlu_page(
    request: Request,
    session: SessionDep,
    bench: WorkbenchDep,
    official: ConsoleOfficial,
    msg: str | None = None,
    job: int | None = None,
) -> HTMLResponse:
    shown = banner(msg) if msg and msg.startswith("nlu_") and msg != "nlu_refused" else None
    return _render(request, session, official, bench, shown, job_id=job)


@router.post("/corrections/{correction_id}/accept")
def accept(correction_id: int, form: FormDep, label: Field = "", alias: Field = "") -> Response:
    f = form
    return f.act(
        lambda: f.bench.accept(f.session, f.official, correction_id, label or None, alias or None),
        "nlu_accepted",
        "queue",
    )


@router.post("/corrections/{correction_id}/reject")
def reject(correction_id: int, form: FormDep) -> Response:
    f = form
    return f.act(lambda: f.bench.reject(f.session, f.official, correction_id), "nlu_rejected", "queue")


@router.post("/review/{code}/label")
def label_ticket(code: str, form: FormDep, label: Field = "") -> Response:
    f = form
    return f.act(lambda: f.bench.label_ticket(f.session, f.official, code, label), "nlu_labelled", "unsure")


@router.post("/train")
def train(form: FormDep) -> Response:
    queued: list[int] = []
    response = form.act(lambda: queued.append(form.bench.create_job(form.session, form.official).id), "", "train")
    if queued:  # straight to the job's progress bar
        return RedirectResponse(f"/console/nlu?msg=nlu_train_queued&job={queued[0]}#train", status_code=303)
    return response


@router.get("/jobs/{job_id}.json")
def job_status(job_id: int, session: SessionDep, bench: WorkbenchDep, official: ConsoleOfficial) -> JSONResponse:
    """What the progress bar polls."""
    if official.role != "admin":
        return JSONResponse({"error": banner("nlu_forbidden").text}, status_code=403)  # type: ignore[union-attr]
    try:
        found = job_dict(bench.job(session, job_id))
    except WorkbenchError as exc:
        return JSONResponse({"error": exc.reason}, status_code=exc.status)
    found["status_name"] = STATUS_NAMES.get(found["status"], found["status"])
    found.pop("evaluation", None)
    return JSONResponse(found)


@router.get("/jobs/{job_id}/confusion.png")
def confusion(job_id: int, session: SessionDep, bench: WorkbenchDep, official: ConsoleOfficial) -> Response:
    if official.role != "admin":
        raise HTTPException(403, "Chỉ quản trị viên")
    try:
        return Response(bench.confusion_png(session, job_id), media_type="image/png")
    except WorkbenchError as exc:
        raise HTTPException(exc.status, exc.reason) from None


@router.post("/models/{version}/activate")
def activate(version: str, form: FormDep, force: Field = "", reason: Field = "") -> Response:
    f = form
    return f.act(
        lambda: f.bench.activate(f.session, f.official, version, force=bool(force), reason=reason or None),
        "nlu_activated",
        "models",
    )


@router.get("/static/{name}")
def static_file(name: str) -> FileResponse:
    """The page's script and stylesheet (no inline code: the Content-Security-Policy forbids it)."""
    if name not in ASSETS:
        raise HTTPException(404, "Not found / Không tìm thấy")
    return FileResponse(STATIC / name, media_type=ASSETS[name], headers={"Cache-Control": "public, max-age=300"})
