"""Settings from ``GOPY_*`` environment variables and an optional ``.env`` file."""

from __future__ import annotations

import logging
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SECRET = "change-me-dev-secret"
PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA_PACKAGE = "gopy_data"  # the repository's data/ folder, installed as a resource package (see pyproject.toml)


def bundled_data_dir() -> Path:
    """The default data directory: routing rules, templates, NLU data and the common-password list shipped with gopy.

    An installed wheel holds them in the ``gopy_data`` resource package; an editable install maps that package to the
    repository's ``data/`` folder, and a checkout that was never installed reads ``data/`` directly."""
    try:
        return Path(str(resources.files(DATA_PACKAGE)))
    except ModuleNotFoundError:
        return PROJECT_ROOT / "data"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GOPY_", env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    secret_key: str = DEFAULT_SECRET
    # Everything gopy writes locally (SQLite database, NLU models) is under var_dir unless set apart: a relative
    # GOPY_VAR_DIR is resolved once, when the settings are read, against the current directory at that moment.
    var_dir: Path = Path("var")
    database_url: str = ""  # empty: SQLite at var_dir/gopy.db (embedded default)
    redis_url: str = ""  # empty: in-process stand-in (embedded default)
    # Every Redis key gopy writes starts with "<prefix>:", so installations and test runs can share a database
    redis_prefix: str = Field(default="gopy", pattern=r"^[A-Za-z0-9_.-]+(:[A-Za-z0-9_.-]+)*$", max_length=64)
    model_dir: Path = Path("var/models")  # unset: var_dir/models
    data_dir: Path = Field(default_factory=bundled_data_dir)  # GOPY_DATA_DIR overrides the bundled data
    public_url: str = "http://127.0.0.1:8000"
    host: str = "127.0.0.1"
    port: int = 8000

    # Behaviour
    run_workers: bool = True  # run the outbox/intake workers inside the API process
    access_log: bool | None = None  # one log line per request; unset: on, except in production (docs/capacity.md)
    token_ttl_minutes: int = 12 * 60
    # Officials' logins: failures allowed per account and per client address in a window, then 429 until it ends
    login_failures_per_account: int = Field(default=5, ge=1)
    login_failures_per_address: int = Field(default=20, ge=1)
    login_window_seconds: int = Field(default=15 * 60, ge=1)
    auto_migrate: bool = True  # embedded default: migrate on start
    bootstrap_model: bool = True  # train + activate a model on first start when none is active

    # Outbox
    outbox_max_attempts: int = 8
    outbox_base_delay: float = 2.0
    outbox_max_delay: float = 600.0
    # webhooks stored in up to this many concurrent group-commit transactions per API process (a sender's next
    # message waits for the commit of their previous one, so each chat is numbered in arrival order)
    intake_transactions: int = Field(default=3, ge=1, le=32)
    telegram_rate_overall: float = 30.0
    telegram_rate_per_chat: float = 1.0
    zalo_rate_overall: float = 10.0

    # Channels
    telegram_token: str = ""
    telegram_secret: str = ""
    telegram_api_url: str = "https://api.telegram.org/bot"
    zalo_app_id: str = ""
    zalo_app_secret: str = ""
    zalo_oa_secret: str = ""
    zalo_access_token: str = ""
    zalo_refresh_token: str = ""
    zalo_api_url: str = "https://openapi.zalo.me"
    zalo_oauth_url: str = "https://oauth.zaloapp.com"
    zalobot_token: str = ""
    zalobot_secret: str = ""
    zalobot_api_url: str = "https://bot-api.zaloplatforms.com/bot"

    # Citizen rate limit (messages per minute) for chit-chat/spam
    citizen_rate_per_minute: int = Field(default=20, ge=1)
    # Web chat: messages per minute per chat session and per client address (429 with Retry-After beyond)
    webchat_rate_per_session: int = Field(default=20, ge=1)
    webchat_rate_per_address: int = Field(default=120, ge=1)

    # Privacy (Decree 13/2023): months after closing before a ticket's personal data is erased by the worker
    retention_months: int = Field(default=24, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _anchor_to_var_dir(cls, data: Any) -> Any:
        """Resolve var_dir once and derive the database and the model store from it unless they are set."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        var_dir = Path(data.get("var_dir") or "var").expanduser().resolve()
        data["var_dir"] = var_dir
        if not data.get("database_url"):
            data["database_url"] = f"sqlite:///{var_dir / 'gopy.db'}"
        data["model_dir"] = Path(data.get("model_dir") or var_dir / "models").expanduser().resolve()
        if data.get("data_dir"):
            data["data_dir"] = Path(data["data_dir"]).expanduser().resolve()
        return data

    @model_validator(mode="after")
    def _refuse_default_secrets(self) -> Settings:
        if self.environment == "production":
            problems = []
            if self.secret_key == DEFAULT_SECRET or len(self.secret_key) < 32:
                problems.append(
                    "GOPY_SECRET_KEY must be set to a random value of at least 32 characters "
                    "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(48))')"
                )
            if self.telegram_token and not self.telegram_secret:
                problems.append("GOPY_TELEGRAM_SECRET is required when GOPY_TELEGRAM_TOKEN is set")
            if self.zalo_app_id and not self.zalo_oa_secret:
                problems.append("GOPY_ZALO_OA_SECRET is required when GOPY_ZALO_APP_ID is set")
            if self.database_url.startswith("sqlite"):
                problems.append("production needs PostgreSQL (GOPY_DATABASE_URL=postgresql+psycopg://...)")
            if problems:
                raise ValueError("refusing to start in production: " + "; ".join(problems))
        return self

    @property
    def uses_dev_secret(self) -> bool:
        return self.secret_key == DEFAULT_SECRET

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


DEV_SECRET_WARNING = (
    "\n" + "!" * 78 + "\n"
    "!! WARNING: GOPY_SECRET_KEY is not set: gopy is using the built-in DEVELOPMENT secret.\n"
    "!! Anyone who knows it can forge console sessions' CSRF tokens and officials' API tokens.\n"
    "!! Set GOPY_SECRET_KEY to a random value of at least 32 characters before real use\n"
    "!! (production refuses to start without it).\n"
    "!! CẢNH BÁO: chưa đặt GOPY_SECRET_KEY, gopy đang dùng khóa bí mật mặc định chỉ dành cho phát triển.\n" + "!" * 78
)


def warn_dev_secret(settings: Settings, logger: logging.Logger | None = None) -> bool:
    """Log a loud warning naming ``GOPY_SECRET_KEY`` when the development secret is in use; True if it is."""
    if not settings.uses_dev_secret:
        return False
    (logger or logging.getLogger("gopy")).warning(DEV_SECRET_WARNING)
    return True


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
