"""The channel interface every platform adapter implements."""

from __future__ import annotations

import abc
from dataclasses import dataclass, field

from bot.messages import InboundMessage, OutboundMessage


class SendError(Exception):
    """A message could not be delivered.

    ``reason`` is a machine code ("rate_limited", "server_error", "network", "token_expired", "blocked",
    "not_interacted", "bad_request", ...); ``retryable`` says whether trying again later can succeed;
    ``retry_after`` is the platform's requested wait in seconds, when it gave one.
    """

    def __init__(self, message: str, *, reason: str, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.retryable = retryable
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class SendReceipt:
    platform_message_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class InboundResult:
    """What a webhook payload turned into: a message to store and process, or an event ignored with a reason."""

    message: InboundMessage | None
    outcome: str = "accepted"  # "accepted" | "ignored:<why>" | "unsupported"
    callback_query_id: str | None = None  # Telegram: a button press to acknowledge


class ChannelSender(abc.ABC):
    channel: str
    text_limit: int
    supports_buttons: bool
    menu_hint: str = ""  # under buttons shown as a numbered list; the backend sets it from the reply templates

    @abc.abstractmethod
    async def send(self, msg: OutboundMessage) -> SendReceipt:
        """Deliver one message (split into several platform messages if needed); raise SendError on failure."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""
