"""Sending to Telegram with python-telegram-bot's ``Bot`` (``base_url`` overridable for tests)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.request import BaseRequest, HTTPXRequest, RequestData

from bot.base import ChannelSender, InboundResult, SendError, SendReceipt
from bot.messages import OutboundMessage
from bot.render import numbered_menu, split_text
from bot.telegram.inbound import parse_update

log = logging.getLogger(__name__)
T = TypeVar("T")
TEXT_LIMIT = 4096
CALLBACK_LIMIT = 64
ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "my_chat_member"]


class FloodLimited(TelegramError):
    """Telegram's "Too Many Requests, retry after N" (HTTP 429 with ``parameters.retry_after``)."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class _Request(HTTPXRequest):
    """PTB's HTTP client, except that a flood limit is raised as ``FloodLimited``.

    PTB's own ``RetryAfter`` reads its deprecated integer ``retry_after`` while being built, which warns unless the
    process environment opts in to timedelta periods (``PTB_TIMEDELTA``); gopy does not change the environment of
    the process that imports it, so it reads the number from the response itself (``do_request`` is PTB's documented
    extension point for HTTP back-ends)."""

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        code, payload = await super().do_request(
            url, method, request_data, read_timeout, write_timeout, connect_timeout, pool_timeout
        )
        if code == 429:
            wait = _flood_wait(payload)
            if wait is not None:
                raise FloodLimited(f"Flood control exceeded. Retry in {wait:g} seconds", wait)
        return code, payload


def _flood_wait(payload: bytes) -> float | None:
    try:
        value = json.loads(payload)["parameters"]["retry_after"]
    except (ValueError, TypeError, KeyError):
        return None
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) and value > 0 else None


def _retry_after(exc: RetryAfter) -> float:
    value = getattr(exc, "_retry_after", None)
    if isinstance(value, timedelta):
        return value.total_seconds()
    return 1.0


def _bot(token: str, base_url: str) -> Bot:
    return Bot(
        token,
        base_url=base_url,
        request=_Request(connection_pool_size=16, read_timeout=15),
        get_updates_request=_Request(read_timeout=40),
    )


class TelegramSender(ChannelSender):
    channel = "telegram"
    text_limit = TEXT_LIMIT
    supports_buttons = True

    def __init__(self, token: str, base_url: str = "https://api.telegram.org/bot", bot: Bot | None = None) -> None:
        self.bot = bot or _bot(token, base_url)
        self._ready = False
        self._warned = False

    async def initialize(self) -> None:
        """Connect and check the token (``getMe``). Lazy: nothing is sent at start, so a Telegram that is down
        does not stop the workers; every send tries again until it works. Raises ``SendError`` (retryable)."""
        if self._ready:
            return
        try:
            await self._call(self.bot.initialize())
        except SendError as exc:
            if not self._warned:
                log.warning("Telegram Bot API not usable yet (%s: %s): sends wait and retry", exc.reason, exc)
                self._warned = True
            raise
        self._ready = True
        if self._warned:
            log.info("Telegram Bot API reachable")
            self._warned = False

    async def aclose(self) -> None:
        await self.bot.shutdown()  # also after a failed start: the HTTP clients may be open
        self._ready = False

    async def send(self, msg: OutboundMessage) -> SendReceipt:
        await self.initialize()
        fits = all(len(b.payload.encode()) <= CALLBACK_LIMIT for b in msg.buttons)
        text = msg.text if fits else numbered_menu(msg.text, msg.buttons, self.menu_hint)
        markup = None
        if msg.buttons and fits:
            markup = InlineKeyboardMarkup(
                [[InlineKeyboardButton(b.title[:64], callback_data=b.payload)] for b in msg.buttons]
            )
        chunks = split_text(text, TEXT_LIMIT)
        ids: list[str] = []
        for i, chunk in enumerate(chunks):
            last = i == len(chunks) - 1
            sent = await self._call(
                self.bot.send_message(chat_id=msg.chat_id, text=chunk, reply_markup=markup if last else None)
            )
            ids.append(str(sent.message_id))
        return SendReceipt(ids)

    async def answer_callback(self, query_id: str) -> None:
        await self.initialize()
        await self._call(self.bot.answer_callback_query(query_id))

    @staticmethod
    async def _call(coro: Awaitable[T]) -> T:
        try:
            return await coro
        except FloodLimited as exc:
            raise SendError(str(exc), reason="rate_limited", retryable=True, retry_after=exc.retry_after) from exc
        except RetryAfter as exc:  # a Bot built elsewhere (without our request class)
            raise SendError(str(exc), reason="rate_limited", retryable=True, retry_after=_retry_after(exc)) from exc
        except Forbidden as exc:
            raise SendError(str(exc), reason="blocked", retryable=False) from exc
        except BadRequest as exc:
            raise SendError(str(exc), reason="bad_request", retryable=False) from exc
        except (TimedOut, NetworkError) as exc:
            raise SendError(str(exc), reason="network", retryable=True) from exc
        except InvalidToken as exc:  # a wrong token, or a proxy answering 401/404; the message would carry the token
            raise SendError("Telegram rejected the bot token", reason="auth_failed", retryable=True) from exc
        except TelegramError as exc:
            raise SendError(str(exc), reason="server_error", retryable=True) from exc


async def set_webhook(token: str, url: str, secret: str, base_url: str = "https://api.telegram.org/bot") -> None:
    bot = _bot(token, base_url)
    async with bot:
        await bot.set_webhook(url=url, secret_token=secret, allowed_updates=ALLOWED_UPDATES, drop_pending_updates=False)


async def poll_updates(
    sender: TelegramSender, handle: Callable[[InboundResult], Awaitable[None]], max_rounds: int | None = None
) -> None:
    """Development mode: long-poll getUpdates and hand every update to ``handle``.

    Telegram being unreachable at start is waited out (with a capped backoff), never fatal."""
    delay = 1.0
    while True:
        try:
            await sender.initialize()
            await sender._call(sender.bot.delete_webhook())
            break
        except SendError as exc:
            if not exc.retryable:
                raise
            log.warning("Telegram not reachable (%s): trying again in %.0f s", exc.reason, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 60.0)
    offset = 0
    rounds = 0
    while max_rounds is None or rounds < max_rounds:
        rounds += 1
        try:
            updates = await sender.bot.get_updates(offset=offset, timeout=30, allowed_updates=ALLOWED_UPDATES)
        except (TimedOut, NetworkError):
            await asyncio.sleep(1.0)
            continue
        for update in updates:
            offset = update.update_id + 1
            result = parse_update(update.to_dict())
            if result.callback_query_id:
                try:
                    await sender.answer_callback(result.callback_query_id)
                except SendError:
                    log.warning("could not answer callback query")
            await handle(result)
