"""Sending to Telegram: the Bot API's JSON posted directly; python-telegram-bot's ``Bot`` for polling mode and the
webhook registration (``base_url`` overridable for tests)."""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
from collections.abc import Awaitable, Callable
from datetime import timedelta
from http import HTTPStatus
from typing import Any, TypeVar
from urllib.parse import urlsplit
from urllib.request import getproxies, proxy_bypass

import aiohttp
import certifi
from telegram import Bot
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
CONNECTIONS = 8  # Bot API calls in flight at once per sender: more cost the HTTP client more per call than they gain
JSON = {"content-type": "application/json"}


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
    return _seconds(value)


def _seconds(value: Any) -> float | None:
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


class BotApiHttp:
    """The HTTP client a ``TelegramSender`` posts through: an ``aiohttp`` session with ``connections`` kept-alive
    connections to the Bot API (a send costs it a fraction of the CPU httpx took: issue 16). The session is opened
    on the first call, in the event loop that makes it (aiohttp binds a session to a running loop), so the client
    can be built anywhere. ``read_timeout`` bounds each wait for the answer, ``connect_timeout`` a new connection."""

    def __init__(
        self, connections: int = CONNECTIONS, read_timeout: float = 15.0, connect_timeout: float = 5.0
    ) -> None:
        self._connections = connections
        self._timeout = aiohttp.ClientTimeout(
            total=None, connect=connect_timeout, sock_connect=connect_timeout, sock_read=read_timeout
        )
        self._session: aiohttp.ClientSession | None = None
        self.closed = False

    def _open(self, url: str) -> aiohttp.ClientSession:
        if self.closed:
            raise RuntimeError("the Bot API client is closed")
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self._connections, ssl=_tls()),
            timeout=self._timeout,
            cookie_jar=aiohttp.DummyCookieJar(),  # the Bot API sets no cookies: none kept, none sent
            proxy=env_proxy(url),  # looked up once: aiohttp's own lookup (trust_env) costs two threads per call
        )
        return self._session

    async def post(self, url: str, body: bytes) -> tuple[int, bytes]:
        """POST a JSON ``body``; the answer's status and body. Raises ``aiohttp.ClientError``, ``TimeoutError``
        or ``OSError`` when no answer comes. Every call goes to the same Bot API host."""
        session = self._session or self._open(url)
        async with session.post(url, data=body, headers=JSON) as response:
            return response.status, await response.read()

    async def aclose(self) -> None:
        self.closed = True
        if self._session is not None:
            await self._session.close()


def _tls() -> ssl.SSLContext:
    """Certificates checked against certifi's bundle, as httpx (the client before this one) checked them: the same
    trust whatever the image's system store holds."""
    return ssl.create_default_context(cafile=certifi.where())


def env_proxy(url: str) -> str | None:
    """The proxy that the environment (``HTTPS_PROXY``, ``HTTP_PROXY``, ``NO_PROXY``) names for ``url``, honoured as
    httpx, the client before this one, honoured it."""
    parts = urlsplit(url)
    if parts.hostname and proxy_bypass(parts.hostname):
        return None
    return getproxies().get(parts.scheme)


def http_client(connections: int = CONNECTIONS) -> BotApiHttp:
    """The HTTP client a ``TelegramSender`` posts through: ``connections`` kept-alive connections to the Bot API."""
    return BotApiHttp(connections)


def _error(status: int, body: bytes) -> SendError:
    """A Bot API refusal as a ``SendError``, classified as python-telegram-bot classifies it (its exception, then
    ``TelegramSender._call``'s mapping): a wait asked for is a retryable rate limit with that wait, 403 (blocked,
    kicked) and 400 (bad request, chat not found) are permanent, 401/404 a rejected token (never quoted), 409 or a
    moved group a retryable server error, anything else (5xx, a 429 without a wait) a retryable network error."""
    try:
        phrase = f"{HTTPStatus(status).phrase} ({status})"
    except ValueError:
        phrase = f"Unknown HTTPError ({status})"
    try:
        data = json.loads(body.decode("utf-8", "replace"))
    except ValueError:
        data = None
    description = phrase
    if isinstance(data, dict):
        description = str(data.get("description") or phrase)
        parameters = data.get("parameters")
        if parameters:
            if isinstance(parameters, dict) and parameters.get("migrate_to_chat_id"):
                return SendError("Group migrated to supergroup", reason="server_error", retryable=True)
            wait = parameters.get("retry_after") if isinstance(parameters, dict) else None
            if wait:
                seconds = _seconds(wait) or 1.0
                return SendError(
                    f"Flood control exceeded. Retry in {seconds:g} seconds",
                    reason="rate_limited",
                    retryable=True,
                    retry_after=seconds,
                )
    for prefix in ("Error: ", "[Error]: ", "Bad Request: "):  # as python-telegram-bot words its errors
        description = description.removeprefix(prefix)
    if status == 403:
        return SendError(description, reason="blocked", retryable=False)
    if status in (401, 404):
        return SendError("Telegram rejected the bot token", reason="auth_failed", retryable=True)
    if status == 400:
        return SendError(description, reason="bad_request", retryable=False)
    if status == 409:
        return SendError(description, reason="server_error", retryable=True)
    return SendError(description, reason="network", retryable=True)


class TelegramSender(ChannelSender):
    """Posts the Bot API's JSON directly through one ``BotApiHttp`` (its own or the one given, closed with the
    sender); python-telegram-bot's ``Bot`` (``self.bot``) serves polling mode only.

    At most ``connections`` calls are in flight at once and the rest wait their turn here, never in the HTTP
    client's connection pool (whose connect timeout would then count the wait)."""

    channel = "telegram"
    text_limit = TEXT_LIMIT
    supports_buttons = True

    def __init__(
        self,
        token: str,
        base_url: str = "https://api.telegram.org/bot",
        bot: Bot | None = None,
        http: BotApiHttp | None = None,
        connections: int = CONNECTIONS,
    ) -> None:
        self._token = token
        self._base_url = base_url
        self._api = f"{base_url}{token}/"
        self._bot = bot
        self._http = http or http_client(connections)
        self._gate = asyncio.Semaphore(connections)
        self._ready = False
        self._warned = False

    @property
    def bot(self) -> Bot:
        """python-telegram-bot's client for the calls gopy leaves to it (getUpdates, deleteWebhook)."""
        if self._bot is None:
            self._bot = _bot(self._token, self._base_url)
        return self._bot

    async def initialize(self) -> None:
        """Connect and check the token (``getMe``). Lazy: nothing is sent at start, so a Telegram that is down
        does not stop the workers; every send tries again until it works. Raises ``SendError`` (retryable)."""
        if self._ready:
            return
        try:
            await self.call("getMe", {})
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
        await self._http.aclose()
        if self._bot is not None:
            await self._bot.shutdown()  # also after a failed start: the HTTP clients may be open
        self._ready = False

    async def start_polling(self) -> None:
        """Polling mode: python-telegram-bot checks the token (``getMe``, which also serves the sends) and removes
        the webhook, so that ``getUpdates`` may be used. Raises ``SendError``."""
        await self._call(self.bot.initialize())
        self._ready = True
        await self._call(self.bot.delete_webhook())

    async def call(self, method: str, params: dict[str, Any]) -> Any:
        """One Bot API call with a JSON body; its ``result``, or a ``SendError``."""
        body = json.dumps(params, ensure_ascii=False, separators=(",", ":")).encode()
        try:
            async with self._gate:
                status, payload = await self._http.post(self._api + method, body)
        except TimeoutError as exc:  # aiohttp's timeouts are TimeoutErrors (and some also ClientErrors)
            raise SendError(self._quiet(f"Timed out: {exc!r}"), reason="network", retryable=True) from exc
        except (aiohttp.ClientError, OSError) as exc:
            message = self._quiet(f"Telegram Bot API unreachable: {exc!r}")
            raise SendError(message, reason="network", retryable=True) from exc
        if not 200 <= status <= 299:
            raise _error(status, payload)
        try:
            data = json.loads(payload.decode("utf-8", "replace"))
        except ValueError as exc:
            raise SendError("Invalid server response", reason="server_error", retryable=True) from exc
        if not isinstance(data, dict):
            raise SendError("Invalid server response", reason="server_error", retryable=True)
        return data.get("result")

    def _quiet(self, message: str) -> str:
        """``message`` without the bot token (an HTTP error may quote the URL, which carries it)."""
        return message.replace(self._token, "<token>") if self._token else message

    async def send(self, msg: OutboundMessage) -> SendReceipt:
        await self.initialize()
        fits = all(len(b.payload.encode()) <= CALLBACK_LIMIT for b in msg.buttons)
        text = msg.text if fits else numbered_menu(msg.text, msg.buttons, self.menu_hint)
        markup = None
        if msg.buttons and fits:
            markup = {"inline_keyboard": [[{"text": b.title[:64], "callback_data": b.payload}] for b in msg.buttons]}
        chunks = split_text(text, TEXT_LIMIT)
        ids: list[str] = []
        for i, chunk in enumerate(chunks):
            params: dict[str, Any] = {"chat_id": msg.chat_id, "text": chunk}
            if markup is not None and i == len(chunks) - 1:
                params["reply_markup"] = markup
            sent = await self.call("sendMessage", params)
            message_id = sent.get("message_id") if isinstance(sent, dict) else None
            if isinstance(message_id, bool) or not isinstance(message_id, int | str):
                raise SendError("Telegram answered without a message id", reason="server_error", retryable=True)
            ids.append(str(message_id))
        return SendReceipt(ids)

    async def answer_callback(self, query_id: str) -> None:
        await self.initialize()
        await self.call("answerCallbackQuery", {"callback_query_id": query_id})

    @staticmethod
    async def _call(coro: Awaitable[T]) -> T:
        """A python-telegram-bot call, its errors mapped as the direct calls' are."""
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
            await sender.start_polling()
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
