"""The admins' NLU workbench: review queues, reviewed place aliases, training jobs, models and their activation.

Routes (``backend/api/routes/nlu.py``, ``backend/console/nlu.py``) call one method each; every method works in the
caller's session and commits. Refusals are :class:`WorkbenchError` with an HTTP status and a Vietnamese reason.
Training never runs here: :meth:`Workbench.create_job` queues a job that the ``nlu-train`` worker runs
(``backend/workers/nlu_train.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from backend.db.models import AuditLog, NluCorrection, Official, OrgUnit, Ticket
from backend.db.nlu_workbench_models import NluModelRecord, NluPlaceAlias, NluTrainJob
from backend.services import nlu_review
from backend.services.audit import audit
from backend.services.tickets import visible_to
from nlu.aliases import ALIASES_FILE, alias_key, write_aliases
from nlu.store import ModelStore, ModelStoreError
from nlu.vocab import FEEDBACK_INTENT

UNSURE_BELOW: Final = 0.6  # a ticket's category confidence under this goes to the "unsure" queue
OFTEN: Final = 2  # corrected by this many officials: the "unsure" queue too
MAX_DROP: Final = 0.02  # activation refused when the real-world category accuracy drops by more (2 points)
JOB_STATUSES: Final = ("queued", "running", "done", "failed")


class WorkbenchError(Exception):
    """A refused request: ``status`` 404, 409 or 422 and the reason in Vietnamese."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Page:
    data: list[dict[str, Any]]
    count: int


def correction_dict(row: NluCorrection) -> dict[str, Any]:
    return {
        "id": row.id,
        "kind": row.kind,
        "text": row.text,
        "predicted": row.predicted,
        "corrected": row.corrected,
        "official": row.official,
        "created_at": row.created_at.isoformat(),
        "status": row.status,
        "label": row.label,
        "reviewer": row.reviewer,
        "reviewed_at": row.reviewed_at.isoformat() if row.reviewed_at else None,
        "model_version": row.model_version,
        "ticket_id": row.ticket_id,
    }


def job_dict(job: NluTrainJob) -> dict[str, Any]:
    return {
        "id": job.id,
        "status": job.status,
        "progress": round(job.progress, 3),
        "log": list(job.log or [])[-30:],
        "requested_by": job.requested_by,
        "version": job.version,
        "evaluation": job.evaluation,
        "error": job.error,
        "created_at": job.created_at.isoformat(),
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "confusion_matrix": f"/api/nlu/jobs/{job.id}/confusion.png" if job.confusion_png else None,
    }


class Workbench:
    def __init__(self, model_dir: Path, data_dir: Path) -> None:
        self.store = ModelStore(model_dir)
        self.data_dir = data_dir

    # -- review queue -------------------------------------------------------------------------------------------
    def corrections(
        self, session: Session, admin: Official, status: str | None, *, offset: int = 0, limit: int = 50
    ) -> Page:
        if status is not None and status not in nlu_review.STATUSES:
            raise WorkbenchError(422, f"Trạng thái '{status}' không hợp lệ (pending, accepted hoặc rejected).")
        query = select(NluCorrection)
        if status is not None:
            query = query.where(NluCorrection.status == status)
        count = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = session.scalars(query.order_by(NluCorrection.id.desc()).offset(offset).limit(limit))
        data = [correction_dict(r) for r in rows]
        audit(session, admin, "list", "nlu_correction", "*", status=status, count=len(data))
        session.commit()
        return Page(data, count)

    def _correction(self, session: Session, correction_id: int) -> NluCorrection:
        row = session.get(NluCorrection, correction_id)
        if row is None:
            raise WorkbenchError(404, "Không tìm thấy sửa đổi này.")
        return row

    def _label(self, session: Session, kind: str, label: str) -> str:
        """A valid label for this kind: a training label (a bare category is read as a petition's), or a commune."""
        label = label.strip()
        if kind == "place":
            unit = session.get(OrgUnit, label)
            if unit is None or unit.level != "commune":
                raise WorkbenchError(422, f"Mã xã/phường '{label}' không có trong danh mục đơn vị.")
            return label
        labels = nlu_review.training_labels()
        if f"{FEEDBACK_INTENT}/{label}" in labels:
            label = f"{FEEDBACK_INTENT}/{label}"
        if label not in labels:
            raise WorkbenchError(422, f"Nhãn '{label}' không có trong danh mục lĩnh vực và ý định.")
        return label

    def accept(
        self, session: Session, admin: Official, correction_id: int, label: str | None, alias: str | None = None
    ) -> dict[str, Any]:
        """Accept a correction (and every pending one about the same text), with ``label`` if the admin edits it.
        An accepted place becomes a reviewed alias: ``alias`` names it when the official gave no place name."""
        row = self._correction(session, correction_id)
        if row.status != "pending" and row.reviewer != nlu_review.MAJORITY:
            raise WorkbenchError(409, "Sửa đổi này đã được quản trị viên duyệt.")
        final = self._label(session, row.kind, label or row.corrected)
        name = None
        if row.kind == "place":
            name = self._alias_name(session, row, alias)
        nlu_review.decide(session, row, admin.username, "accepted", final)
        if name is not None:
            self._add_alias(session, name, final, row.id, admin.username)
        audit(session, admin, "accept", "nlu_correction", str(row.id), label=final, alias=name)
        session.commit()
        if name is not None:
            self.export_aliases(session)
        return correction_dict(row)

    def reject(self, session: Session, admin: Official, correction_id: int) -> dict[str, Any]:
        row = self._correction(session, correction_id)
        if row.status != "pending" and row.reviewer != nlu_review.MAJORITY:
            raise WorkbenchError(409, "Sửa đổi này đã được quản trị viên duyệt.")
        nlu_review.decide(session, row, admin.username, "rejected", None)
        audit(session, admin, "reject", "nlu_correction", str(row.id))
        session.commit()
        return correction_dict(row)

    # -- place aliases ------------------------------------------------------------------------------------------
    @staticmethod
    def _alias_name(session: Session, row: NluCorrection, alias: str | None) -> str:
        name = " ".join((alias or "").split())
        if not name:
            name = row.text if len(row.text) <= 60 and row.text.strip() else ""  # the official named the place
        if not name:
            raise WorkbenchError(422, "Hãy ghi tên địa danh (thôn, xóm, tên gọi địa phương) có trong nội dung.")
        ticket = session.get(Ticket, row.ticket_id) if row.ticket_id else None
        if ticket is not None and alias and alias_key(name) not in alias_key(ticket.text):
            raise WorkbenchError(422, "Tên địa danh phải là những chữ có trong nội dung phản ánh.")
        return name

    @staticmethod
    def _add_alias(session: Session, name: str, commune: str, correction_id: int, by: str) -> None:
        key = alias_key(name)
        found = session.scalars(select(NluPlaceAlias).where(NluPlaceAlias.key == key)).first()
        if found is None:
            session.add(
                NluPlaceAlias(name=name, key=key, commune_code=commune, correction_id=correction_id, created_by=by)
            )
        else:
            found.name, found.commune_code, found.correction_id, found.created_by = name, commune, correction_id, by

    def aliases(self, session: Session) -> list[dict[str, Any]]:
        rows = session.scalars(select(NluPlaceAlias).order_by(NluPlaceAlias.name))
        return [{"name": a.name, "commune_code": a.commune_code, "created_by": a.created_by, "id": a.id} for a in rows]

    def export_aliases(self, session: Session) -> Path:
        """Write the reviewed aliases where every process's location extractor reads them (the model store)."""
        aliases = {a["name"]: a["commune_code"] for a in self.aliases(session)}
        return write_aliases(self.store.root / ALIASES_FILE, aliases)

    # -- the "unsure" queue -------------------------------------------------------------------------------------
    def unsure(self, session: Session, admin: Official, *, limit: int = 50) -> list[dict[str, Any]]:
        """Tickets the model was unsure about (low category confidence) or that officials corrected often, not yet
        decided by an admin; least sure first."""
        corrected = (
            select(NluCorrection.ticket_id, func.count(func.distinct(NluCorrection.official)).label("n"))
            .where(NluCorrection.ticket_id.is_not(None))
            .group_by(NluCorrection.ticket_id)
            .subquery()
        )
        decided = select(NluCorrection.ticket_id).where(
            NluCorrection.ticket_id.is_not(None),
            NluCorrection.status != "pending",
            NluCorrection.reviewer != nlu_review.MAJORITY,
        )
        query = (
            select(Ticket, func.coalesce(corrected.c.n, 0))
            .outerjoin(corrected, corrected.c.ticket_id == Ticket.id)
            .where(
                visible_to(admin),
                Ticket.id.not_in(decided),
                or_(
                    and_(Ticket.category.is_not(None), Ticket.category_confidence < UNSURE_BELOW),
                    func.coalesce(corrected.c.n, 0) >= OFTEN,
                ),
            )
            .order_by(Ticket.category_confidence, Ticket.id.desc())
            .limit(limit)
        )
        items = [
            {
                "code": t.code,
                "text": t.text,
                "category": t.category,
                "confidence": round(t.category_confidence, 3),
                "corrections": int(n),
                "model": (t.nlu or {}).get("model"),
            }
            for t, n in session.execute(query)
        ]
        audit(session, admin, "list", "nlu_review", "*", count=len(items))
        session.commit()
        return items

    def label_ticket(self, session: Session, admin: Official, code: str, label: str) -> dict[str, Any]:
        """One click in the "unsure" queue: the admin's label becomes an accepted example at once."""
        ticket = session.scalars(select(Ticket).where(Ticket.code == code, visible_to(admin))).first()
        if ticket is None:
            raise WorkbenchError(404, "Không tìm thấy phản ánh này.")
        final = self._label(session, "category", label)
        kind = "not_petition" if final == nlu_review.NOT_PETITION_LABEL else "category"
        row = nlu_review.record(
            session,
            admin.username,
            kind=kind,
            text=ticket.text,
            ticket_id=ticket.id,
            predicted=f"{FEEDBACK_INTENT}/{ticket.category}" if ticket.category else ticket.intent,
            corrected=final,
            model_version=str((ticket.nlu or {}).get("model") or "") or None,
        )
        nlu_review.decide(session, row, admin.username, "accepted", final)
        audit(session, admin, "label", "nlu_review", ticket.code, label=final)
        session.commit()
        return correction_dict(row)

    # -- training jobs ------------------------------------------------------------------------------------------
    def create_job(self, session: Session, admin: Official) -> NluTrainJob:
        waiting = session.scalars(select(NluTrainJob).where(NluTrainJob.status == "queued")).first()
        if waiting is not None:
            raise WorkbenchError(409, f"Đã có lượt huấn luyện #{waiting.id} đang chờ chạy.")
        job = NluTrainJob(
            status="queued", progress=0.0, log=["Đã xếp hàng, chờ tiến trình nền."], requested_by=admin.username
        )
        session.add(job)
        session.flush()
        audit(session, admin, "train", "nlu_job", str(job.id))
        session.commit()
        return job

    def job(self, session: Session, job_id: int) -> NluTrainJob:
        job = session.get(NluTrainJob, job_id)
        if job is None:
            raise WorkbenchError(404, "Không tìm thấy lượt huấn luyện này.")
        return job

    def jobs(self, session: Session, limit: int = 20) -> list[dict[str, Any]]:
        return [job_dict(j) for j in session.scalars(select(NluTrainJob).order_by(NluTrainJob.id.desc()).limit(limit))]

    def confusion_png(self, session: Session, job_id: int) -> bytes:
        png = self.job(session, job_id).confusion_png
        if png is None:
            raise WorkbenchError(404, "Lượt huấn luyện này chưa có ma trận nhầm lẫn.")
        return png

    # -- models -------------------------------------------------------------------------------------------------
    def models(self, session: Session) -> list[dict[str, Any]]:
        records = {r.version: r for r in session.scalars(select(NluModelRecord))}
        out = []
        for info in reversed(self.store.versions()):
            rec = records.get(info.version)
            meta = info.metadata
            out.append(
                {
                    "version": info.version,
                    "created_at": meta.get("created_at"),
                    "created_by": rec.created_by if rec and rec.created_by else "gopy nlu train",
                    "examples": meta.get("examples"),
                    "labels": len(meta.get("labels") or {}),
                    "scores": rec.scores if rec else {},
                    "realworld_category_accuracy": rec.realworld_category_accuracy if rec else None,
                    "active": info.active,
                }
            )
        return out

    def previous_version(self) -> str | None:
        """The version before the active one (what a rollback activates)."""
        versions = [v.version for v in self.store.versions()]
        active = self.store.active_version()
        if active not in versions:
            return None
        i = versions.index(active)
        return versions[i - 1] if i > 0 else None

    def activate(
        self, session: Session, admin: Official, version: str, *, force: bool = False, reason: str | None = None
    ) -> dict[str, Any]:
        """Make ``version`` the model every process serves (within 10 s). Refused (409) when its real-world
        category accuracy is more than 2 points below the active model's, or unknown, unless ``force`` with a
        reason; every activation is audited."""
        try:
            version = self.store.version_in_store(version)
        except ModelStoreError:
            raise WorkbenchError(404, f"Không có mô hình '{version}' trong kho mô hình.") from None
        active = self.store.active_version()
        if version == active:
            raise WorkbenchError(409, f"Mô hình {version} đang được dùng.")
        reason = " ".join((reason or "").split()) or None
        if force and reason is None:
            raise WorkbenchError(422, "Kích hoạt bắt buộc cần ghi lý do.")
        new = self._accuracy(session, version)
        old = self._accuracy(session, active) if active else None
        if active is not None and not force:
            if new is None or old is None:
                raise WorkbenchError(
                    409,
                    "Chưa có số đo độ chính xác thực tế của mô hình này hoặc mô hình đang dùng: "
                    "hãy huấn luyện trên bàn làm việc, hoặc kích hoạt bắt buộc kèm lý do.",
                )
            if new < old - MAX_DROP:
                raise WorkbenchError(
                    409,
                    f"Độ chính xác lĩnh vực trên dữ liệu thực tế giảm từ {old:.1%} xuống {new:.1%} "
                    f"(quá 2 điểm): chỉ kích hoạt bắt buộc kèm lý do.",
                )
        try:
            self.store.activate(version)
        except ModelStoreError as exc:
            raise WorkbenchError(409, f"Không kích hoạt được mô hình {version}: {exc}") from None
        audit(
            session,
            admin,
            "activate",
            "nlu_model",
            version,
            previous=active,
            force=force,
            reason=reason,
            realworld_category_accuracy=new,
            previous_accuracy=old,
        )
        session.commit()
        return {"version": version, "previous": active, "forced": force}

    @staticmethod
    def _accuracy(session: Session, version: str) -> float | None:
        rec = session.get(NluModelRecord, version)
        return rec.realworld_category_accuracy if rec else None

    @staticmethod
    def audit_trail(session: Session, limit: int = 30) -> list[dict[str, Any]]:
        rows = session.scalars(
            select(AuditLog)
            .where(AuditLog.object_type.in_(("nlu_model", "nlu_job")))
            .order_by(AuditLog.id.desc())
            .limit(limit)
        )
        return [
            {
                "at": r.created_at.isoformat(),
                "actor": r.actor,
                "action": r.action,
                "object": r.object_id,
                "detail": r.detail,
            }
            for r in rows
        ]
