"""The web chat channel: post a message, read what was sent to the session."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from sqlalchemy import select

from backend.api.deps import ContainerDep, SessionDep
from backend.api.schemas import SESSION_PATTERN, ButtonPublic, ChatMessageIn, ChatRepliesPublic, ChatReply
from backend.db.models import Citizen, Message
from bot.messages import InboundMessage

router = APIRouter(prefix="/api/webchat", tags=["webchat"])


def _reply(row: Message) -> ChatReply:
    buttons = [ButtonPublic(**b) for b in (row.data or {}).get("buttons", [])]
    return ChatReply(id=row.id, text=row.text, buttons=buttons, author=row.author, created_at=row.created_at)


@router.post("/messages", response_model=ChatRepliesPublic)
def post_message(body: ChatMessageIn, container: ContainerDep) -> ChatRepliesPublic:
    """Send a citizen's message; the bot's replies come back in the response."""
    if not body.text and not body.payload:
        raise HTTPException(422, "text must not be empty / nội dung không được để trống")
    msg = InboundMessage(
        channel="webchat",
        platform_message_id=f"{body.session}:{body.client_id or uuid.uuid4().hex}",
        user_id=body.session,
        chat_id=body.session,
        kind="button" if body.payload else "text",
        text=body.text,
        payload=body.payload,
        event="webchat.message",
    )
    stored = container.intake.store(msg)
    written = [] if stored.duplicate else container.intake.process(stored.message_id, deliver_inline=True)
    with container.scope() as session:
        if stored.duplicate:
            rows = [
                r
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
        else:
            rows = written
        cursor = session.scalar(
            select(Message.id)
            .where(Message.citizen_id == stored.citizen_id, Message.direction == "out")
            .order_by(Message.id.desc())
            .limit(1)
        )
    return ChatRepliesPublic(replies=[_reply(r) for r in rows], cursor=cursor or 0)


@router.get("/messages", response_model=ChatRepliesPublic)
def get_messages(
    session: SessionDep,
    session_id: Annotated[str, Query(alias="session", pattern=SESSION_PATTERN)],
    after: Annotated[int, Query(ge=0)] = 0,
) -> ChatRepliesPublic:
    """Messages sent to this web chat session after the ``after`` cursor (official replies, status updates)."""
    citizen = session.scalars(
        select(Citizen).where(Citizen.channel == "webchat", Citizen.platform_user_id == session_id)
    ).first()
    if citizen is None:
        raise HTTPException(404, "unknown session / phiên trò chuyện không tồn tại")
    rows = list(
        session.scalars(
            select(Message)
            .where(Message.citizen_id == citizen.id, Message.direction == "out", Message.id > after)
            .order_by(Message.id)
            .limit(200)
        )
    )
    return ChatRepliesPublic(replies=[_reply(r) for r in rows], cursor=rows[-1].id if rows else after)
