"""Telegram adapter (python-telegram-bot 22.x types never leave this package)."""

from bot.telegram.inbound import parse_update, verify_secret
from bot.telegram.sender import TelegramSender, poll_updates, set_webhook

__all__ = ["TelegramSender", "parse_update", "poll_updates", "set_webhook", "verify_secret"]
