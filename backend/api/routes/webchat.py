"""The web chat channel: post a message, read what was sent to the session."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy import select

from backend.api.deps import IntakeDep, SessionDep, SettingsDep, ThrottleDep
from backend.api.schemas import SESSION_PATTERN, ButtonPublic, ChatMessageIn, ChatRepliesPublic, ChatReply
from backend.config import Settings
from backend.db.models import Citizen, Message
from backend.services.throttle import Limit, Throttle
from bot.messages import InboundMessage, geo_point

router = APIRouter(prefix="/api/webchat", tags=["webchat"])
MAX_CURSOR = 2**31 - 1  # message ids are 32-bit integers in PostgreSQL
HISTORY = 200  # messages a reloaded page shows (both ways)
CITIZEN = "citizen"  # the author of the citizen's own messages in the history
TOO_MANY = (
    "Too many messages, please wait a moment / "
    "Bạn gửi tin nhắn hơi nhanh, xin vui lòng chờ một chút rồi gửi tiếp. Xin cảm ơn!"
)


def _reply(row: Message) -> ChatReply:
    buttons = [ButtonPublic(**b) for b in (row.data or {}).get("buttons", [])] if row.direction == "out" else []
    author = row.author if row.direction == "out" else CITIZEN
    return ChatReply(id=row.id, text=row.text, buttons=buttons, author=author, created_at=row.created_at)


def _throttle(throttle: Throttle, settings: Settings, request: Request, session_id: str) -> None:
    """Per chat session and per client address, shared by every process; refused messages are not stored."""
    address = request.client.host if request.client else "unknown"
    for name, subject, count in (
        ("webchat-session", session_id, settings.webchat_rate_per_session),
        ("webchat-address", address, settings.webchat_rate_per_address),
    ):
        wait = throttle.hit(name, subject, Limit(count, 60))
        if wait is not None:
            raise HTTPException(429, TOO_MANY, headers={"Retry-After": str(int(wait))})


@router.post(
    "/messages",
    response_model=ChatRepliesPublic,
    responses={429: {"description": "Too many messages: wait for Retry-After seconds"}},
)
def post_message(
    body: ChatMessageIn,
    request: Request,
    intake: IntakeDep,
    throttle: ThrottleDep,
    settings: SettingsDep,
    session: SessionDep,
) -> ChatRepliesPublic:
    """Send a citizen's message (text, a pressed button, or the position the browser shared); the bot's replies come
    back in the response.

    A retry with the same ``client_id`` is not processed again: it returns the replies to the first copy.
    """
    _throttle(throttle, settings, request, body.session)
    location = geo_point(body.latitude, body.longitude)
    msg = InboundMessage(
        channel="webchat",
        platform_message_id=f"{body.session}:{body.client_id or uuid.uuid4().hex}",
        user_id=body.session,
        chat_id=body.session,
        kind="location" if location else "button" if body.payload else "text",
        text=body.text,
        payload=None if location else body.payload,
        location=location,
        event="webchat.message",
    )
    stored = intake.store(msg)
    if not stored.duplicate:
        written = intake.process(stored.message_id, deliver_inline=True)
        replies = [_reply(r) for r in written]
    else:
        replies = [
            _reply(r)
            for r in session.scalars(
                select(Message)
                .where(
                    Message.citizen_id == stored.citizen_id,
                    Message.direction == "out",
                    Message.id > stored.message_id,
                )
                .order_by(Message.id)
            )
            if (r.data or {}).get("in_reply_to") == stored.message_id
        ]
    cursor = session.scalar(
        select(Message.id)
        .where(Message.citizen_id == stored.citizen_id, Message.direction == "out")
        .order_by(Message.id.desc())
        .limit(1)
    )
    return ChatRepliesPublic(replies=replies, cursor=cursor or 0)


@router.get("/messages", response_model=ChatRepliesPublic)
def get_messages(
    session: SessionDep,
    header_session: Annotated[
        str | None,
        Header(alias="X-Chat-Session", pattern=SESSION_PATTERN, description="The web chat session id"),
    ] = None,
    query_session: Annotated[
        str | None,
        Query(
            alias="session",
            pattern=SESSION_PATTERN,
            deprecated=True,
            description="Deprecated (ends up in access logs): send the X-Chat-Session header instead",
        ),
    ] = None,
    after: Annotated[int, Query(ge=0, le=MAX_CURSOR)] = 0,
    history: Annotated[
        bool, Query(description="The whole conversation, the citizen's own messages too (author 'citizen')")
    ] = False,
) -> ChatRepliesPublic:
    """Messages sent to this web chat session after the ``after`` cursor (official replies, status updates); with
    ``history`` the latest messages both ways, so a reloaded page shows the whole conversation and its ticket codes."""
    session_id = header_session or query_session
    if session_id is None:
        missing = "the X-Chat-Session header is required / thiếu mã phiên trò chuyện"
        raise RequestValidationError([{"type": "missing", "loc": ("header", "X-Chat-Session"), "msg": missing}])
    citizen = session.scalars(
        select(Citizen).where(Citizen.channel == "webchat", Citizen.platform_user_id == session_id)
    ).first()
    if citizen is None:
        raise HTTPException(404, "unknown session / phiên trò chuyện không tồn tại")
    if history:
        rows = list(
            session.scalars(
                select(Message)
                .where(Message.citizen_id == citizen.id, Message.id > after)
                .order_by(Message.id.desc())
                .limit(HISTORY)
            )
        )[::-1]
        sent = [r.id for r in rows if r.direction == "out"]
        return ChatRepliesPublic(replies=[_reply(r) for r in rows], cursor=sent[-1] if sent else after)
    rows = list(
        session.scalars(
            select(Message)
            .where(Message.citizen_id == citizen.id, Message.direction == "out", Message.id > after)
            .order_by(Message.id)
            .limit(200)
        )
    )
    return ChatRepliesPublic(replies=[_reply(r) for r in rows], cursor=rows[-1].id if rows else after)
