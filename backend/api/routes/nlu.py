"""The NLU over HTTP: parsing, and the admins' workbench (review queues, training jobs, models).

Every workbench route is for admins only (officers and supervisors: 403); each calls one method of
:class:`~backend.services.nlu_workbench.Workbench`, whose refusals become 404/409/422 with a Vietnamese reason.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, NoReturn

from fastapi import APIRouter, HTTPException, Query, Response

from backend.api.deps import CurrentAdmin, ParserDep, RowId, SessionDep, WorkbenchDep
from backend.api.nlu_schemas import (
    Activated,
    ActivateIn,
    CorrectionDecision,
    CorrectionPublic,
    CorrectionsPublic,
    JobCreated,
    JobPublic,
    ModelPublic,
    ModelsPublic,
    ReviewItem,
    ReviewLabel,
    ReviewPublic,
)
from backend.api.schemas import NLUParseIn
from backend.services.nlu_workbench import WorkbenchError, job_dict

router = APIRouter(prefix="/api/nlu", tags=["nlu"])


def _refuse(exc: WorkbenchError) -> NoReturn:
    raise HTTPException(exc.status, exc.reason) from None


@router.post("/parse")
def parse(body: NLUParseIn, parser: ParserDep) -> dict[str, Any]:
    """Rasa-compatible parse of one message, plus gopy's category, location, urgency and the ``model`` version that
    answered."""
    return parser.parse(body.text).to_dict()


# -- review queue ------------------------------------------------------------------------------------------------
@router.get("/corrections", response_model=CorrectionsPublic)
def corrections(
    session: SessionDep,
    bench: WorkbenchDep,
    admin: CurrentAdmin,
    status: Annotated[Literal["pending", "accepted", "rejected"] | None, Query(description="the review status")] = None,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> CorrectionsPublic:
    """Officials' corrections (category, not a petition, place) with their review status, newest first."""
    try:
        page = bench.corrections(session, admin, status, offset=offset, limit=limit)
    except WorkbenchError as exc:
        _refuse(exc)
    return CorrectionsPublic(data=[CorrectionPublic(**d) for d in page.data], count=page.count)


@router.post("/corrections/{correction_id}/accept", response_model=CorrectionPublic)
def accept(
    correction_id: RowId,
    session: SessionDep,
    bench: WorkbenchDep,
    admin: CurrentAdmin,
    body: CorrectionDecision | None = None,
) -> CorrectionPublic:
    """Accept a correction (and the others about the same text), optionally with an edited ``label``; an accepted
    place becomes a reviewed alias (``alias``: the local name, when the official gave none)."""
    body = body or CorrectionDecision()
    try:
        return CorrectionPublic(**bench.accept(session, admin, correction_id, body.label, body.alias))
    except WorkbenchError as exc:
        _refuse(exc)


@router.post("/corrections/{correction_id}/reject", response_model=CorrectionPublic)
def reject(correction_id: RowId, session: SessionDep, bench: WorkbenchDep, admin: CurrentAdmin) -> CorrectionPublic:
    try:
        return CorrectionPublic(**bench.reject(session, admin, correction_id))
    except WorkbenchError as exc:
        _refuse(exc)


@router.get("/review", response_model=ReviewPublic)
def review(
    session: SessionDep,
    bench: WorkbenchDep,
    admin: CurrentAdmin,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> ReviewPublic:
    """Tickets the model was unsure about (low category confidence) or that officials corrected often."""
    items = bench.unsure(session, admin, limit=limit)
    return ReviewPublic(data=[ReviewItem(**i) for i in items], count=len(items))


@router.post("/review/{code}/label", response_model=CorrectionPublic, status_code=201)
def label(
    code: str, body: ReviewLabel, session: SessionDep, bench: WorkbenchDep, admin: CurrentAdmin
) -> CorrectionPublic:
    """One click: the admin's label for this ticket's text becomes an accepted training example."""
    try:
        return CorrectionPublic(**bench.label_ticket(session, admin, code, body.label))
    except WorkbenchError as exc:
        _refuse(exc)


# -- training jobs -------------------------------------------------------------------------------------------------
@router.post("/train", response_model=JobCreated, status_code=202)
def train(session: SessionDep, bench: WorkbenchDep, admin: CurrentAdmin) -> JobCreated:
    """Queue a training job; the ``nlu-train`` worker runs it (never this process). Follow it at /api/nlu/jobs/{id}."""
    try:
        return JobCreated(id=bench.create_job(session, admin).id)
    except WorkbenchError as exc:
        _refuse(exc)


@router.get("/jobs/{job_id}", response_model=JobPublic)
def job(job_id: RowId, session: SessionDep, bench: WorkbenchDep, admin: CurrentAdmin) -> JobPublic:
    """Status, progress 0–1, recent log lines; when done, the new version and its evaluation against the active one."""
    try:
        return JobPublic(**job_dict(bench.job(session, job_id)))
    except WorkbenchError as exc:
        _refuse(exc)


@router.get("/jobs/{job_id}/confusion.png")
def confusion(job_id: RowId, session: SessionDep, bench: WorkbenchDep, admin: CurrentAdmin) -> Response:
    """The new model's confusion matrix on the evaluation data (rows gold, columns predicted)."""
    try:
        return Response(bench.confusion_png(session, job_id), media_type="image/png")
    except WorkbenchError as exc:
        _refuse(exc)


# -- models --------------------------------------------------------------------------------------------------------
@router.get("/models", response_model=ModelsPublic)
def models(session: SessionDep, bench: WorkbenchDep, admin: CurrentAdmin) -> ModelsPublic:
    """Every model version, newest first: created, by whom, training data size, evaluation figures, active."""
    data = [ModelPublic(**m) for m in bench.models(session)]
    return ModelsPublic(data=data, count=len(data))


@router.post("/models/{version}/activate", response_model=Activated)
def activate(
    version: str, session: SessionDep, bench: WorkbenchDep, admin: CurrentAdmin, body: ActivateIn | None = None
) -> Activated:
    """Serve this version everywhere within 10 s (rolling back = activating the previous one). Refused (409) when
    its real-world category accuracy is more than 2 points below the active model's, unless ``force`` with a
    ``reason``; audited."""
    body = body or ActivateIn()
    try:
        return Activated(**bench.activate(session, admin, version, force=body.force, reason=body.reason))
    except WorkbenchError as exc:
        _refuse(exc)
