"""Zalo Official Account adapter: verified webhooks, customer-service messages, rotating tokens."""

from bot.zalo.client import ZaloOAClient
from bot.zalo.inbound import parse_event
from bot.zalo.signature import expected_signature, verify_signature
from bot.zalo.tokens import LocalRefreshLock, MemoryTokenStore, RedisRefreshLock, TokenStore, ZaloTokens

__all__ = [
    "LocalRefreshLock",
    "MemoryTokenStore",
    "RedisRefreshLock",
    "TokenStore",
    "ZaloOAClient",
    "ZaloTokens",
    "expected_signature",
    "parse_event",
    "verify_signature",
]
