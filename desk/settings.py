"""The desk's own settings: the ``desk:`` section of ``settings.yml``, overridden by the environment.

The file is ``settings.yml`` in the project root, or the one WALLET_SUPPORT_SETTINGS
names. Besides its own section the desk reads three ``socketio:`` values for the
widget page it serves. Precedence: keyword arguments, then the environment
variables listed below (an empty one counts as unset), then the file, then the
defaults. Secrets come only from the environment.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

import yaml
from pydantic import BaseModel, BaseSettings, Field, validator

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SETTINGS_FILE = PROJECT_ROOT / "settings.yml"
DEFAULT_SLA_MINUTES = {"P1": 30, "P2": 120, "P3": 1440}

Source = Callable[[BaseSettings], Dict[str, Any]]


def settings_file() -> Path:
    return Path(os.environ.get("WALLET_SUPPORT_SETTINGS", DEFAULT_SETTINGS_FILE))


def read_section(name: str) -> Dict[str, Any]:
    """One top-level section of the settings file ({} when it is absent or empty)."""
    raw = yaml.safe_load(settings_file().read_text(encoding="utf-8")) or {}
    return raw.get(name) or {}


def env_source(names: Mapping[str, str]) -> Source:
    """The fields named in ``names`` (field -> environment variable) that the environment sets."""
    def source(_settings: BaseSettings) -> Dict[str, Any]:
        found = {field: os.environ.get(variable) for field, variable in names.items()}
        return {field: value for field, value in found.items() if value}
    return source


def strip_slash(value: Optional[str]) -> Optional[str]:
    return value.rstrip("/") if isinstance(value, str) else value


class ShiftSetting(BaseModel):
    """One recurring shift: weekdays (0 = Monday), local start/end ``HH:MM``, agents on it."""

    weekdays: Tuple[int, ...] = tuple(range(7))
    start: str
    end: str
    agents: int = 1

    class Config:
        frozen = True


DESK_ENV = {
    "database_url": "DESK_DATABASE_URL",
    "url": "DESK_URL",
    "port": "DESK_PORT",
    "secure_cookies": "DESK_SECURE_COOKIES",
    "rasa_url": "RASA_URL",
    "oncall_telegram_api_base": "ONCALL_TELEGRAM_API_BASE",
    "oncall_telegram_chat_id": "ONCALL_TELEGRAM_CHAT_ID",
    "api_token": "DESK_API_TOKEN",
    "rasa_api_token": "RASA_API_TOKEN",
    "oncall_telegram_bot_token": "ONCALL_TELEGRAM_BOT_TOKEN",
    "oncall_coalesce_seconds": "ONCALL_COALESCE_SECONDS",
    "escalations_per_client": "DESK_ESCALATIONS_PER_CLIENT",
    "tracker_database_url": "DESK_TRACKER_DATABASE_URL",
    "assignment_cap": "DESK_ASSIGNMENT_CAP",
    "reopen_minutes": "DESK_REOPEN_MINUTES",
    "attachments_dir": "DESK_ATTACHMENTS_DIR",
    "attachment_retention_days": "DESK_ATTACHMENT_RETENTION_DAYS",
    "telegram_api_base": "TELEGRAM_API_BASE",
    "telegram_bot_token": "TELEGRAM_BOT_TOKEN",
}


def desk_file_source(_settings: BaseSettings) -> Dict[str, Any]:
    """``desk:`` of the settings file, in the fields' names (secrets are never read from it)."""
    raw = read_section("desk")
    oncall = raw.get("oncall") or {}
    values = {key: raw[key] for key in ("database_url", "url", "port", "rasa_url", "timezone", "minutes_per_ticket",
                                        "delivery_retry_seconds", "secure_cookies", "login_max_failures",
                                        "login_window_seconds", "escalations_per_client", "escalations_per_conversation",
                                        "escalation_window_minutes", "tracker_database_url", "assignment_cap",
                                        "reopen_minutes", "attachments_dir", "attachment_max_bytes",
                                        "attachment_types", "attachment_retention_days") if key in raw}
    values["sla_minutes"] = {**DEFAULT_SLA_MINUTES, **{str(k): int(v) for k, v in (raw.get("sla_minutes") or {}).items()}}
    values["default_shifts"] = tuple(raw.get("shifts") or ())
    for key in ("telegram_api_base", "telegram_chat_id", "repage_minutes", "coalesce_seconds"):
        if oncall.get(key) is not None:
            values["oncall_" + key] = oncall[key]
    return values


class DeskSettings(BaseSettings):
    """The agent desk (package ``desk``) and how it reaches Rasa and the on-call chat."""

    database_url: str = "sqlite:///var/desk.db"
    # Rasa's tracker store (endpoints.yml), read only: the NLU inbox and the report learn from every conversation.
    tracker_database_url: str = "sqlite:///var/tracker.db"
    url: str = "http://127.0.0.1:8080"
    port: int = 8080
    rasa_url: str = "http://127.0.0.1:5005"
    timezone: str = "Asia/Shanghai"
    sla_minutes: Dict[str, int] = Field(default_factory=lambda: dict(DEFAULT_SLA_MINUTES))
    # Prior for the ETA until the desk has measured its own first-response times.
    minutes_per_ticket: int = 10
    default_shifts: Tuple[ShiftSetting, ...] = ()
    delivery_retry_seconds: float = 5.0
    # Behind HTTPS (a TLS-terminating proxy): every desk cookie gets the Secure flag.
    secure_cookies: bool = False
    # Failed logins allowed per username and per client address within the window (then HTTP 429).
    login_max_failures: int = 5
    login_window_seconds: int = 300
    # New tickets allowed per client (hashed address) and per conversation within the window;
    # beyond that a ticket is still opened but flagged as a flood: after the others, no page.
    escalations_per_client: int = 5
    escalations_per_conversation: int = 3
    escalation_window_minutes: int = 10
    oncall_telegram_api_base: str = "https://api.telegram.org"
    oncall_telegram_chat_id: Optional[str] = None
    # An unclaimed P1 pages again after this long (and again each interval); failed pages are retried.
    oncall_repage_minutes: float = 10
    # Pages within this window go out as one message with the count.
    oncall_coalesce_seconds: float = 60
    # Auto-assignment (desk.assignment): open tickets an online agent holds at most.
    assignment_cap: int = 5
    # A user who escalates again within this many minutes of a close re-opens the same ticket.
    reopen_minutes: float = 30
    # Attachments (desk.attachments): where the bytes live, what is accepted, how long it is kept.
    attachments_dir: str = "var/attachments"
    attachment_max_bytes: int = 5_000_000
    attachment_types: Tuple[str, ...] = ("image/jpeg", "image/png", "image/webp", "application/pdf", "text/plain")
    attachment_retention_days: float = 30
    # The Bot API the desk downloads Telegram files through (getFile); same base and token as the bot's channel.
    telegram_api_base: str = "https://api.telegram.org"
    # Secrets: only from the environment (`make run` writes var/secrets.env).
    telegram_bot_token: Optional[str] = Field(None, repr=False)
    api_token: Optional[str] = Field(None, repr=False)
    rasa_api_token: Optional[str] = Field(None, repr=False)
    oncall_telegram_bot_token: Optional[str] = Field(None, repr=False)

    _strip = validator("url", "rasa_url", "oncall_telegram_api_base", "telegram_api_base", allow_reuse=True)(strip_slash)

    class Config:
        frozen = True

        @classmethod
        def customise_sources(cls, init_settings: Source, env_settings: Source, file_secret_settings: Source):
            return init_settings, env_source(DESK_ENV), desk_file_source


SOCKETIO_ENV = {
    "allowed_origins": "SOCKETIO_ALLOWED_ORIGINS",
    "public_url": "SOCKETIO_PUBLIC_URL",
    "session_secret": "SOCKETIO_SESSION_SECRET",
}


def socketio_file_source(_settings: BaseSettings) -> Dict[str, Any]:
    raw = read_section("socketio")
    return {key: raw[key] for key in ("allowed_origins", "public_url") if raw.get(key) is not None}


class SocketIOSettings(BaseSettings):
    """What the desk's widget page needs of the bot's socket.io channel (``socketio:``)."""

    # Pages allowed to open a socket (the wallet app's web view, the widget page).
    allowed_origins: Tuple[str, ...] = ("http://localhost:8080", "http://127.0.0.1:8080")
    # Where browsers reach Rasa's socket.io endpoint (the widget page connects there).
    public_url: str = "http://localhost:5005"
    # Signs the session ids the bot issues; the widget's status route checks them.
    session_secret: Optional[str] = Field(None, repr=False)

    _strip = validator("public_url", allow_reuse=True)(strip_slash)

    @validator("allowed_origins", pre=True)
    def _origins(cls, value: Any) -> Any:
        """A comma-separated string (the environment) or a list (the file); no trailing slashes."""
        listed = value.split(",") if isinstance(value, str) else value
        return tuple(str(o).strip().rstrip("/") for o in listed if str(o).strip())

    class Config:
        frozen = True

        @classmethod
        def customise_sources(cls, init_settings: Source, env_settings: Source, file_secret_settings: Source):
            return init_settings, env_source(SOCKETIO_ENV), socketio_file_source


@lru_cache(maxsize=1)
def get_settings() -> DeskSettings:
    return DeskSettings()


@lru_cache(maxsize=1)
def get_socketio_settings() -> SocketIOSettings:
    return SocketIOSettings()
