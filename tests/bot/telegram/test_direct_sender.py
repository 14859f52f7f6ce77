"""The sender posts the Bot API's JSON directly (issue 16: python-telegram-bot's per-call work and its connection
pool's queue limited the outbox): every answer the Bot API can give maps to the ``SendError`` python-telegram-bot's
path gave (checked side by side on the same answers), and the direct path keeps its own promises (message ids, markup
on the last part only, a bounded number of calls in flight, the injected client used and closed)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from bot.base import SendError
from bot.messages import Button, OutboundMessage
from bot.telegram import TelegramSender
from bot.telegram.sender import BotApiHttp
from tests.fakes.outage import SlowTelegram, late_telegram
from tests.fakes.telegram_server import FakeTelegram, fake_telegram

MSG = OutboundMessage("telegram", "42", "xin chào")


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with fake_telegram() as f:
        yield f


def refusal(code: int, description: str, **parameters: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return body


# (answer status, answer body) -> (reason, retryable, retry_after) of the SendError, on both paths
ANSWERS: dict[str, tuple[int, dict[str, Any] | bytes, tuple[str, bool, float | None]]] = {
    "flood limit": (429, refusal(429, "Too Many Requests: retry after 7", retry_after=7), ("rate_limited", True, 7.0)),
    "flood limit, fractional wait": (
        429,
        refusal(429, "Too Many Requests", retry_after=1.5),
        ("rate_limited", True, 1.5),
    ),
    "429 without a wait": (429, refusal(429, "Too Many Requests"), ("network", True, None)),
    "blocked by the user": (403, refusal(403, "Forbidden: bot was blocked by the user"), ("blocked", False, None)),
    "kicked from the group": (403, refusal(403, "Forbidden: bot was kicked"), ("blocked", False, None)),
    "chat not found": (400, refusal(400, "Bad Request: chat not found"), ("bad_request", False, None)),
    "bad request, no body": (400, b"", ("bad_request", False, None)),
    "token rejected (401)": (401, refusal(401, "Unauthorized"), ("auth_failed", True, None)),
    "token rejected (404)": (404, refusal(404, "Not Found"), ("auth_failed", True, None)),
    "conflict": (409, refusal(409, "Conflict: terminated by other getUpdates request"), ("server_error", True, None)),
    "group moved": (400, refusal(400, "Bad Request: migrated", migrate_to_chat_id=-1001), ("server_error", True, None)),
    "internal error": (500, refusal(500, "Internal Server Error"), ("network", True, None)),
    "bad gateway, HTML page": (502, b"<html>502 Bad Gateway</html>", ("network", True, None)),
    "unavailable": (503, refusal(503, "Service Unavailable"), ("network", True, None)),
    "unknown status": (599, b"{}", ("network", True, None)),
    "unknown parameters": (500, refusal(500, "odd", other=1), ("network", True, None)),
    "200, not JSON": (200, b"not json", ("server_error", True, None)),
}


async def direct_error(sender: TelegramSender) -> SendError:
    with pytest.raises(SendError) as exc:
        await sender.send(MSG)
    return exc.value


async def library_error(sender: TelegramSender) -> SendError:
    with pytest.raises(SendError) as exc:
        await sender._call(sender.bot.send_message(chat_id=MSG.chat_id, text=MSG.text))
    return exc.value


@pytest.mark.parametrize("name", sorted(ANSWERS))
async def test_every_answer_maps_as_python_telegram_bot_mapped_it(fake: FakeTelegram, name: str) -> None:
    status, body, expected = ANSWERS[name]
    sender = TelegramSender(fake.token, base_url=fake.base_url)
    await sender.initialize()
    await sender._call(sender.bot.initialize())
    fake.answer("sendMessage", status, body)
    direct = await direct_error(sender)
    fake.answer("sendMessage", status, body)
    library = await library_error(sender)
    await sender.aclose()
    assert (direct.reason, direct.retryable, direct.retry_after) == expected
    assert (library.reason, library.retryable, library.retry_after) == expected
    assert fake.token not in str(direct)


async def test_a_wait_asked_for_with_another_status_is_still_a_rate_limit(fake: FakeTelegram) -> None:
    fake.answer("sendMessage", 400, refusal(400, "Bad Request: slow down", retry_after=3))
    sender = TelegramSender(fake.token, base_url=fake.base_url)
    error = await direct_error(sender)
    await sender.aclose()
    assert (error.reason, error.retryable, error.retry_after) == ("rate_limited", True, 3.0)


async def test_a_refusal_keeps_telegrams_description_without_its_prefix(fake: FakeTelegram) -> None:
    fake.answer("sendMessage", 400, refusal(400, "Bad Request: chat not found"))
    fake.answer("sendMessage", 403, refusal(403, "Forbidden: bot was blocked by the user"))
    sender = TelegramSender(fake.token, base_url=fake.base_url)
    assert str(await direct_error(sender)) == "chat not found"
    assert str(await direct_error(sender)) == "Forbidden: bot was blocked by the user"
    await sender.aclose()


@pytest.mark.parametrize("result", [True, {"date": 0}, {"message_id": None}, {"message_id": True}, None])
async def test_a_success_without_a_message_id_is_a_retryable_server_error(fake: FakeTelegram, result: Any) -> None:
    fake.answer("sendMessage", 200, json.dumps({"ok": True, "result": result}).encode())
    sender = TelegramSender(fake.token, base_url=fake.base_url)
    error = await direct_error(sender)
    await sender.aclose()
    assert (error.reason, error.retryable) == ("server_error", True)


async def test_a_success_that_is_not_an_object_is_a_retryable_server_error(fake: FakeTelegram) -> None:
    fake.answer("sendMessage", 200, b"[1, 2]")
    sender = TelegramSender(fake.token, base_url=fake.base_url)
    error = await direct_error(sender)
    await sender.aclose()
    assert (error.reason, error.retryable) == ("server_error", True)


async def test_a_token_check_refused_is_reported_and_nothing_sent(fake: FakeTelegram) -> None:
    fake.answer("getMe", 401, refusal(401, "Unauthorized"))
    sender = TelegramSender(fake.token, base_url=fake.base_url)
    error = await direct_error(sender)
    assert (error.reason, error.retryable) == ("auth_failed", True)
    assert fake.attempts() == 0
    receipt = await sender.send(MSG)  # the next send checks the token again, and goes out
    await sender.aclose()
    assert receipt.platform_message_ids and fake.attempts("getMe") == 2


async def test_an_unreachable_bot_api_is_a_retryable_network_error() -> None:
    with late_telegram() as late:  # never started: the connection is refused
        sender = TelegramSender(late.fake.token, base_url=late.base_url)
        error = await direct_error(sender)
        await sender.aclose()
    assert (error.reason, error.retryable) == ("network", True)


async def test_an_answer_too_late_is_a_retryable_network_error() -> None:
    with late_telegram() as late:
        late.fake.answer_delay = 2.0
        await asyncio.to_thread(late.up)
        sender = TelegramSender(late.fake.token, base_url=late.base_url, http=BotApiHttp(read_timeout=0.3))
        await sender.initialize()
        error = await direct_error(sender)
        await sender.aclose()
    assert (error.reason, error.retryable) == ("network", True)
    assert "Timed out" in str(error)


async def test_message_ids_of_every_part_and_the_buttons_on_the_last_part_only(fake: FakeTelegram) -> None:
    text = "Phản ánh của Ông/Bà đã được chuyển tới Ủy ban Mặt trận. " * 100
    sender = TelegramSender(fake.token, base_url=fake.base_url)
    receipt = await sender.send(OutboundMessage("telegram", "42", text, (Button("Đồng ý " * 20, "consent:named"),)))
    await sender.aclose()
    parts = fake.sent()
    assert receipt.platform_message_ids == [str(n) for n in range(1, len(parts) + 1)] and len(parts) == 2
    assert "reply_markup" not in parts[0]
    (row,) = parts[1]["reply_markup"]["inline_keyboard"]
    assert row == [{"text": ("Đồng ý " * 20)[:64], "callback_data": "consent:named"}]


async def test_a_message_without_buttons_carries_no_markup(fake: FakeTelegram) -> None:
    sender = TelegramSender(fake.token, base_url=fake.base_url)
    await sender.send(MSG)
    await sender.aclose()
    assert fake.sent() == [{"chat_id": "42", "text": "xin chào"}]


async def test_calls_in_flight_are_bounded_by_the_connections() -> None:
    slow = SlowTelegram(answer_delay=0.2)
    with late_telegram() as late:
        late.fake = slow
        slow.url = f"http://127.0.0.1:{late.port}"
        await asyncio.to_thread(late.up)
        sender = TelegramSender(slow.token, base_url=late.base_url, connections=3)
        await sender.initialize()
        most = 0

        async def watch() -> None:
            nonlocal most
            while True:
                most = max(most, slow.in_flight)
                await asyncio.sleep(0.01)

        watcher = asyncio.create_task(watch())
        receipts = await asyncio.gather(*(sender.send(OutboundMessage("telegram", str(i), "x")) for i in range(9)))
        watcher.cancel()
        await sender.aclose()
    assert most == 3 and len({r.platform_message_ids[0] for r in receipts}) == 9


class Recording(BotApiHttp):
    """The sender's HTTP client, noting the Bot API method of every call it carries."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    async def post(self, url: str, body: bytes) -> tuple[int, bytes]:
        self.seen.append(url.rsplit("/", 1)[1])
        return await super().post(url, body)


async def test_the_injected_client_carries_the_calls_and_is_closed_with_the_sender(fake: FakeTelegram) -> None:
    http = Recording()
    sender = TelegramSender(fake.token, base_url=fake.base_url, http=http)
    await sender.send(MSG)
    await sender.answer_callback("cbq-9")
    await sender.aclose()
    assert http.seen == ["getMe", "sendMessage", "answerCallbackQuery"] and http.closed
    assert [c.method for c in fake.calls] == http.seen


def test_the_client_is_made_outside_an_event_loop_and_opened_in_the_one_that_uses_it(fake: FakeTelegram) -> None:
    http = BotApiHttp()  # as the channel registry makes it, before any loop runs (aiohttp binds a session to one)
    sender = TelegramSender(fake.token, base_url=fake.base_url, http=http)

    async def send_and_close() -> list[str]:
        receipt = await sender.send(MSG)
        await sender.aclose()
        return receipt.platform_message_ids

    assert asyncio.run(send_and_close()) == ["1"] and http.closed
    assert fake.sent() == [{"chat_id": "42", "text": "xin chào"}]


class Refusing(BotApiHttp):
    """A client whose every call fails on the way with ``error``, its message quoting the URL (token included)."""

    def __init__(self, error: type[Exception]) -> None:
        super().__init__()
        self.error = error

    async def post(self, url: str, body: bytes) -> tuple[int, bytes]:
        raise self.error(f"could not talk to {url}")


@pytest.mark.parametrize(
    "error",
    [
        aiohttp.ClientConnectionError,
        aiohttp.ServerDisconnectedError,
        aiohttp.ClientPayloadError,
        aiohttp.ServerTimeoutError,
        ConnectionResetError,
        TimeoutError,
    ],
)
async def test_a_transport_error_is_a_retryable_network_error_that_never_quotes_the_token(
    error: type[Exception],
) -> None:
    sender = TelegramSender("777:SECRET-token", http=Refusing(error))
    failure = await direct_error(sender)
    await sender.aclose()
    assert (failure.reason, failure.retryable) == ("network", True)
    assert "SECRET-token" not in str(failure) and "<token>" in str(failure)


async def test_a_connection_closed_without_an_answer_is_a_retryable_network_error() -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    sender = TelegramSender("777:SECRET-token", base_url=f"http://127.0.0.1:{port}/bot")
    failure = await direct_error(sender)
    await sender.aclose()
    server.close()
    await server.wait_closed()
    assert (failure.reason, failure.retryable) == ("network", True) and "SECRET-token" not in str(failure)


@pytest.fixture
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for scheme in ("http", "https", "all", "no"):
        monkeypatch.delenv(f"{scheme}_proxy", raising=False)
        monkeypatch.delenv(f"{scheme.upper()}_PROXY", raising=False)
    return monkeypatch


async def test_the_proxy_the_environment_names_carries_the_calls(
    fake: FakeTelegram, no_proxy_env: pytest.MonkeyPatch
) -> None:
    no_proxy_env.setenv("http_proxy", fake.url)  # the fake answers the proxied calls as the Bot API would
    sender = TelegramSender(fake.token, base_url="http://api.telegram.invalid/bot")
    receipt = await sender.send(MSG)
    await sender.aclose()
    assert receipt.platform_message_ids == ["1"] and fake.sent() == [{"chat_id": "42", "text": "xin chào"}]


async def test_a_host_the_environment_exempts_from_the_proxy_is_called_directly(
    fake: FakeTelegram, no_proxy_env: pytest.MonkeyPatch
) -> None:
    with late_telegram() as nowhere:  # never started: a call through this proxy would be refused
        no_proxy_env.setenv("http_proxy", nowhere.fake.url)
        no_proxy_env.setenv("no_proxy", "127.0.0.1")
        sender = TelegramSender(fake.token, base_url=fake.base_url)
        receipt = await sender.send(MSG)
        await sender.aclose()
    assert receipt.platform_message_ids == ["1"]
