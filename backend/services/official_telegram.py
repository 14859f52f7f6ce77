"""Officials on Telegram: linking a chat with a one-time code, ticket notifications, answering citizens by reply-to.

- **Linking.** On the console page "Tài khoản" an official gets a one-time code (8 letters/digits, valid
  :data:`CODE_TTL`, single use, only an HMAC of it stored) and sends ``/lienket CODE`` (or ``/link CODE``) to the
  bot. Wrong codes are throttled per chat (:data:`LINK_ATTEMPTS`). ``/huylienket`` (``/unlink``) or the console
  unlinks. A linked chat never reaches the citizens' conversation (:meth:`OfficialTelegram.turn` runs first).
- **Notifications** (:class:`OfficialAlerts`, called by the :class:`~backend.services.notify.Notifier` in the same
  transaction as the change): a new ticket goes to the linked officials of the unit handling it and of units it was
  alerted to; an urgent new ticket and an overdue one (from the SLA worker's escalation) also go to the supervisors
  and admins of the unit directly above. Committees further up are not told, so the central committee is not flooded
  with every commune's tickets; they see them in the console. Each (ticket, official, kind) is sent once, through
  the same outbox and rate limits as every other message; the outbox item is written with no citizen and no ticket
  (it is not part of the citizen's conversation) and :class:`OfficialTicketNotice` maps it to its ticket.
- **Replies.** The official answers a notification with Telegram's reply-to; the bot shows a preview with "Gửi" and
  "Huỷ". "Gửi" records the reply through :meth:`TicketCases.reply` (the console's use case: scope checks, audit,
  the citizen's message through the outbox); "Huỷ" sends nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.orm import Session

from backend.db.models import Official, OrgUnit, OutboxItem, Ticket, TicketAlert, utcnow
from backend.db.official_links_models import (
    OfficialChannelLink,
    OfficialLinkCode,
    OfficialReplyDraft,
    OfficialTicketNotice,
)
from backend.domain.deadlines import VN_TZ
from backend.services.audit import audit
from backend.services.batch_memo import BatchMemo
from backend.services.notify import queue_message
from backend.services.throttle import Limit, Throttle
from backend.services.usecases import Refused, TicketCases, TicketNotFound
from bot.messages import Button, InboundMessage
from handlers.ports import Reply, Turn

SessionScope = Callable[[], AbstractContextManager[Session]]

CHANNEL = "telegram"
CODE_TTL = timedelta(minutes=10)
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read from a screen and typed on a phone
CODE_LENGTH = 8
LINK_ATTEMPTS = Limit(5, 600)  # wrong codes per chat per 10 minutes
DRAFT_TTL = timedelta(hours=24)  # a preview's buttons work this long
EXCERPT = 300  # characters of the ticket's text in a notification
RECENT_NOTICES = 500  # notifications searched for the one an official replies to
AUTHOR = "system"  # author of the notifications in the outbox
NOTICE_TEMPLATES = {  # the kinds of notification (handlers/texts.py OFFICIAL_NOTICES) and their templates
    "new": "official_notice_new",
    "urgent": "official_notice_urgent",
    "overdue": "official_notice_overdue",
}

_COMMAND = re.compile(r"^/(lienket|link|huylienket|unlink)(?:@\w+)?(?:\s+(.*))?$", re.IGNORECASE | re.DOTALL)
_PAYLOAD = re.compile(r"^ot:(gui|huy):(\d{1,12})$")


class OfficialTexts(Protocol):
    def render(self, key: str, /, **kw: object) -> str: ...

    def category_name(self, code: str | None) -> str: ...


@dataclass(frozen=True, slots=True)
class IssuedCode:
    code: str  # as shown: ABCD-EFGH
    expires_at: datetime


def _normalise(code: str) -> str:
    return re.sub(r"[\s\-]", "", code).upper()


def _vn(value: datetime | None) -> str:
    return value.astimezone(VN_TZ).strftime("%H:%M %d/%m/%Y") if value is not None else "—"


def link_of(session: Session, official: Official) -> OfficialChannelLink | None:
    """The official's linked Telegram chat, if any."""
    query = select(OfficialChannelLink).where(
        OfficialChannelLink.official_id == official.id, OfficialChannelLink.channel == CHANNEL
    )
    return session.scalars(query).first()


class OfficialAlerts:
    """Ticket notifications to the linked chats of the officials in charge (see the module docstring for who)."""

    def __init__(self, texts: OfficialTexts, console_url: str) -> None:
        self.texts = texts
        self.console_url = console_url.rstrip("/")

    def ticket_filed(self, session: Session, ticket: Ticket) -> None:
        self._notify(session, ticket, "urgent" if ticket.urgent else "new")

    def ticket_overdue(self, session: Session, ticket: Ticket) -> None:
        self._notify(session, ticket, "overdue")

    def _notify(self, session: Session, ticket: Ticket, kind: str) -> None:
        own = {ticket.unit_code}
        own |= set(session.scalars(select(TicketAlert.unit_code).where(TicketAlert.ticket_id == ticket.id)))
        parent = session.scalar(select(OrgUnit.parent_code).where(OrgUnit.code == ticket.unit_code))
        above = {parent} if parent and kind != "new" else set()
        rows = session.execute(
            select(OfficialChannelLink, Official)
            .join(Official, Official.id == OfficialChannelLink.official_id)
            .where(
                OfficialChannelLink.channel == CHANNEL,
                Official.active.is_(True),
                Official.unit_code.in_(own | above),
            )
            .order_by(OfficialChannelLink.id)
        ).all()
        body: str | None = None
        for link, official in rows:
            if official.unit_code not in own and official.role == "officer":
                continue  # the unit above: supervisors and admins only
            done = select(OfficialTicketNotice.id).where(
                OfficialTicketNotice.ticket_id == ticket.id,
                OfficialTicketNotice.official_id == official.id,
                OfficialTicketNotice.kind == kind,
            )
            if session.scalar(done) is not None:
                continue
            body = body or self.render(ticket, kind)
            item = queue_message(session, CHANNEL, link.chat_id, body, author=AUTHOR)
            session.flush()
            session.add(
                OfficialTicketNotice(ticket_id=ticket.id, official_id=official.id, kind=kind, outbox_id=item.id)
            )

    def render(self, ticket: Ticket, kind: str) -> str:
        text = ticket.text if len(ticket.text) <= EXCERPT else ticket.text[: EXCERPT - 1].rstrip() + "…"
        deadline = ticket.accept_deadline if kind == "overdue" and ticket.status == "moi" else ticket.deadline
        return self.texts.render(
            NOTICE_TEMPLATES[kind],
            code=ticket.code,
            category=self.texts.category_name(ticket.category),
            place=ticket.location_text or ticket.unit.name,
            text=text,
            deadline=_vn(deadline),
            link=f"{self.console_url}/console/tickets/{ticket.code}",
        )


class OfficialTelegram:
    """Linking officials' Telegram chats, and what the bot does with messages from a linked chat."""

    def __init__(
        self,
        scope: SessionScope,
        cases: TicketCases,
        texts: OfficialTexts,
        secret: str,
        throttle: Throttle | None = None,
    ) -> None:
        self._scope = scope
        self._cases = cases
        self._texts = texts
        self._secret = secret.encode()
        self._throttle = throttle
        self._memo = BatchMemo()  # which of a batch's chats are officials' (see ``prefetch``)

    def prefetch(self, chat_ids: list[str]) -> None:
        """For a batch of Telegram messages: which chats are linked to an official, in one statement, so that a
        citizen's message does not need a session of its own to learn it is not an official's. ``[]`` drops it."""
        if not chat_ids:
            self._memo.clear()
            return
        with self._scope() as session:
            linked = set(
                session.scalars(
                    select(OfficialChannelLink.chat_id).where(
                        OfficialChannelLink.channel == CHANNEL, OfficialChannelLink.chat_id.in_(set(chat_ids))
                    )
                )
            )
        self._memo.fill({chat: chat in linked for chat in chat_ids})

    # -- the console --------------------------------------------------------------------------------------
    def _hash(self, code: str) -> str:
        return hmac.new(self._secret, _normalise(code).encode(), hashlib.sha256).hexdigest()

    def issue_code(self, session: Session, official: Official) -> IssuedCode:
        """A new one-time code for ``official``; their earlier unused codes stop working."""
        now = utcnow()
        session.execute(
            delete(OfficialLinkCode).where(
                OfficialLinkCode.official_id == official.id, OfficialLinkCode.used_at.is_(None)
            )
        )
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        expires = now + CODE_TTL
        session.add(OfficialLinkCode(official_id=official.id, code_hash=self._hash(code), expires_at=expires))
        audit(session, official, "telegram_code", "official", official.username)
        session.commit()
        return IssuedCode(f"{code[:4]}-{code[4:]}", expires)

    def unlink(self, session: Session, official: Official) -> bool:
        """Remove the official's linked chat; ``False`` when there was none."""
        gone = session.execute(
            delete(OfficialChannelLink).where(
                OfficialChannelLink.official_id == official.id, OfficialChannelLink.channel == CHANNEL
            )
        )
        removed = bool(gone.rowcount)  # type: ignore[attr-defined]
        if removed:
            audit(session, official, "telegram_unlink", "official", official.username, by="console")
        session.commit()
        return removed

    # -- the bot ------------------------------------------------------------------------------------------
    def turn(self, msg: InboundMessage) -> Turn | None:
        """The bot's answer when the message is for the officials' side (a link command, or anything from a linked
        chat); ``None`` for a citizen's message, which then goes to the conversation."""
        if msg.channel != CHANNEL:
            return None
        command = _COMMAND.match(msg.text.strip()) if msg.kind == "text" else None
        known, linked = self._memo.take(msg.chat_id)
        if known and not linked and command is None:
            return None  # a citizen's chat (a link is only ever made by a command from the chat itself)
        with self._scope() as session:
            link = session.scalars(
                select(OfficialChannelLink).where(
                    OfficialChannelLink.channel == CHANNEL, OfficialChannelLink.chat_id == msg.chat_id
                )
            ).first()
            if command is not None:
                verb, argument = command[1].lower(), (command[2] or "").strip()
                if verb in ("lienket", "link"):
                    return self._say(self._link(session, msg, argument))
                return self._say(self._unlink_chat(session, link))
            if link is None:
                return None
            if msg.kind in ("follow", "unfollow"):  # the official blocked or restarted the bot: nothing to answer
                return Turn([])
            official = session.get(Official, link.official_id)
            if official is None or not official.active:
                return self._say(self._texts.render("official_inactive"))
            payload = _PAYLOAD.match(msg.payload or "") if msg.kind == "button" else None
            if payload is not None:
                return self._say(self._decide(session, official, payload[1], int(payload[2])))
            if msg.kind == "text" and msg.reply_to:
                return self._draft(session, official, link, msg)
            return self._say(self._texts.render("official_help"))

    @staticmethod
    def _say(text: str) -> Turn:
        return Turn([Reply(text)])

    def _link(self, session: Session, msg: InboundMessage, code: str) -> str:
        if not code:
            return self._texts.render("official_link_usage")
        subject = f"{msg.channel}:{msg.chat_id}"
        if self._throttle is not None:
            wait = self._throttle.peek("official_link", subject, LINK_ATTEMPTS)
            if wait is not None:
                return self._texts.render("official_link_throttled", minutes=max(1, -(-int(wait) // 60)))
        now = utcnow()
        row = session.scalars(select(OfficialLinkCode).where(OfficialLinkCode.code_hash == self._hash(code))).first()
        official = session.get(Official, row.official_id) if row is not None else None
        won = False
        if row is not None and official is not None and official.active and row.expires_at > now:
            used = session.execute(
                update(OfficialLinkCode)
                .where(OfficialLinkCode.id == row.id, OfficialLinkCode.used_at.is_(None))
                .values(used_at=now)
                .execution_options(synchronize_session=False)
            )
            won = used.rowcount == 1  # type: ignore[attr-defined]
        if not won or official is None:
            session.rollback()
            if self._throttle is not None:
                self._throttle.hit("official_link", subject, LINK_ATTEMPTS)
            return self._texts.render("official_link_failed")
        session.execute(  # this chat's earlier link (another official) and this official's earlier chat
            delete(OfficialChannelLink).where(
                OfficialChannelLink.channel == CHANNEL,
                or_(OfficialChannelLink.chat_id == msg.chat_id, OfficialChannelLink.official_id == official.id),
            )
        )
        session.add(
            OfficialChannelLink(
                official_id=official.id,
                channel=CHANNEL,
                chat_id=msg.chat_id,
                platform_user_id=msg.user_id,
                display_name=msg.display_name,
            )
        )
        audit(session, official, "telegram_link", "official", official.username, chat=msg.chat_id)
        session.commit()
        return self._texts.render(
            "official_linked", name=official.full_name or official.username, unit=official.unit.name
        )

    def _unlink_chat(self, session: Session, link: OfficialChannelLink | None) -> str:
        if link is None:
            return self._texts.render("official_not_linked")
        official = session.get(Official, link.official_id)
        session.delete(link)
        if official is not None:
            audit(session, official, "telegram_unlink", "official", official.username, by="telegram")
        session.commit()
        return self._texts.render("official_unlinked")

    def _replied_ticket(self, session: Session, official: Official, chat_id: str, message_id: str) -> Ticket | None:
        """The ticket of the notification (in this chat, to this official) that has this Telegram message id."""
        rows = session.execute(
            select(OfficialTicketNotice.ticket_id, OutboxItem.platform_message_ids)
            .join(OutboxItem, OutboxItem.id == OfficialTicketNotice.outbox_id)
            .where(
                OfficialTicketNotice.official_id == official.id,
                OutboxItem.channel == CHANNEL,
                OutboxItem.chat_id == chat_id,
                OutboxItem.status == "sent",
            )
            .order_by(OfficialTicketNotice.id.desc())
            .limit(RECENT_NOTICES)
        ).all()
        ticket_id = next((tid for tid, ids in rows if message_id in [str(i) for i in ids or ()]), None)
        return session.get(Ticket, ticket_id) if ticket_id is not None else None

    def _draft(self, session: Session, official: Official, link: OfficialChannelLink, msg: InboundMessage) -> Turn:
        assert msg.reply_to is not None
        ticket = self._replied_ticket(session, official, link.chat_id, msg.reply_to)
        if ticket is None:
            return self._say(self._texts.render("official_reply_unknown"))
        text = msg.text.strip()
        if not text or len(text) > self._cases.max_text:
            return self._say(self._texts.render("official_reply_length", limit=self._cases.max_text))
        try:
            self._cases.ops.visible(session, official, ticket.code)
        except TicketNotFound:
            return self._say(self._texts.render("official_reply_refused", code=ticket.code))
        draft = OfficialReplyDraft(official_id=official.id, ticket_id=ticket.id, text=text, status="pending")
        session.add(draft)
        session.commit()
        buttons = [
            Button(self._texts.render("official_reply_button_send"), f"ot:gui:{draft.id}"),
            Button(self._texts.render("official_reply_button_cancel"), f"ot:huy:{draft.id}"),
        ]
        preview = self._texts.render("official_reply_preview", code=ticket.code, text=text)
        return Turn([Reply(preview, tuple(buttons))])

    def _decide(self, session: Session, official: Official, action: str, draft_id: int) -> str:
        draft = session.get(OfficialReplyDraft, draft_id)
        if draft is None or draft.official_id != official.id:
            return self._texts.render("official_reply_unknown")
        ticket = session.get(Ticket, draft.ticket_id)
        assert ticket is not None
        now = utcnow()
        if draft.status == "pending" and draft.created_at < now - DRAFT_TTL:
            self._close(session, draft.id, "expired")
            return self._texts.render("official_reply_unknown")
        status = "sent" if action == "gui" else "cancelled"
        if not self._close(session, draft.id, status, commit=status == "cancelled"):
            return self._texts.render("official_reply_decided")
        if status == "cancelled":
            return self._texts.render("official_reply_cancelled", code=ticket.code)
        code, text = ticket.code, draft.text
        try:  # the console's use case: scope, audit, the citizen's message; commits the draft's status with it
            self._cases.reply(session, official, code, text)
        except TicketNotFound:
            session.rollback()
            self._close(session, draft_id, "refused")
            return self._texts.render("official_reply_refused", code=code)
        except Refused:
            session.rollback()
            self._close(session, draft_id, "refused")
            return self._texts.render("official_reply_length", limit=self._cases.max_text)
        return self._texts.render("official_reply_sent", code=code)

    @staticmethod
    def _close(session: Session, draft_id: int, status: str, *, commit: bool = True) -> bool:
        """Decide a pending draft, exactly once (a second press of either button finds it decided)."""
        won = session.execute(
            update(OfficialReplyDraft)
            .where(and_(OfficialReplyDraft.id == draft_id, OfficialReplyDraft.status == "pending"))
            .values(status=status, decided_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        if commit:
            session.commit()
        return bool(won.rowcount == 1)  # type: ignore[attr-defined]
