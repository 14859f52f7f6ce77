"""Zalo Bot platform adapter (the newer, Telegram-like Bot API with a secret-token webhook)."""

from bot.zalobot.inbound import parse_update, verify_secret
from bot.zalobot.sender import ZaloBotSender

__all__ = ["ZaloBotSender", "parse_update", "verify_secret"]
