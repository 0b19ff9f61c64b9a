"""The one settings object: ``settings.yml`` in the project root, overridden by env.

Read once per process (``get_settings``); modules receive values from here
instead of reading ``os.environ`` themselves.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Dict, Mapping, Optional, Tuple

import yaml

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SETTINGS_FILE = PROJECT_ROOT / "settings.yml"


@dataclass(frozen=True)
class ShiftSetting:
    """One recurring shift: weekdays (0 = Monday), local start/end ``HH:MM``, agents on it."""

    weekdays: Tuple[int, ...]
    start: str
    end: str
    agents: int


@dataclass(frozen=True)
class DeskSettings:
    """The agent desk (package ``desk``) and how the bot and the desk reach each other."""

    database_url: str = "sqlite:///var/desk.db"
    url: str = "http://127.0.0.1:8080"
    port: int = 8080
    rasa_url: str = "http://127.0.0.1:5005"
    timezone: str = "Asia/Shanghai"
    sla_minutes: Dict[str, int] = field(default_factory=lambda: {"P1": 30, "P2": 120, "P3": 1440})
    # Prior for the ETA until the desk has measured its own first-response times.
    minutes_per_ticket: int = 10
    default_shifts: Tuple[ShiftSetting, ...] = ()
    delivery_retry_seconds: float = 5.0
    # Escalations the desk could not take yet, kept by the action server and retried.
    escalation_outbox: str = "var/escalation_outbox.db"
    oncall_telegram_api_base: str = "https://api.telegram.org"
    oncall_telegram_chat_id: Optional[str] = None
    # Secrets: only from the environment (`make run` writes var/secrets.env).
    api_token: Optional[str] = field(default=None, repr=False)
    rasa_api_token: Optional[str] = field(default=None, repr=False)
    oncall_telegram_bot_token: Optional[str] = field(default=None, repr=False)


@dataclass(frozen=True)
class SocketIOSettings:
    """The web widget's socket.io channel (channels/socketio.py)."""

    # Pages allowed to open a socket (the wallet app's web view, the widget page).
    allowed_origins: Tuple[str, ...] = ("http://localhost:8080", "http://127.0.0.1:8080")
    # Where browsers reach Rasa's socket.io endpoint (the widget page connects there).
    public_url: str = "http://localhost:5005"
    # Signs the session ids the server issues (SOCKETIO_SESSION_SECRET; `make run` generates one).
    session_secret: Optional[str] = field(default=None, repr=False)
    # Several Rasa processes: socket.io's message queue, so a reply sent by one process reaches
    # a widget connected to another (SOCKETIO_REDIS_URL, e.g. redis://127.0.0.1:6379/2).
    redis_url: Optional[str] = None


@dataclass(frozen=True)
class TelegramSettings:
    """The Telegram bot channel (channels/telegram.py). Off while no bot token is set."""

    api_base_url: str = "https://api.telegram.org"
    webhook_url: Optional[str] = None
    bot_username: Optional[str] = None
    dedupe_db: str = "var/telegram.db"
    # Secrets: only from the environment.
    bot_token: Optional[str] = field(default=None, repr=False)
    webhook_secret: Optional[str] = field(default=None, repr=False)

    @property
    def enabled(self) -> bool:
        return bool(self.bot_token and self.webhook_secret)


@dataclass(frozen=True)
class ActionGatewaySettings:
    """The gateway in the Rasa process between Rasa and the action server (rasa_server/action_gateway.py)."""

    # The real rasa-sdk action server.
    upstream_url: str = "http://localhost:5055/webhook"
    # Well under Rasa's 60 s conversation lock: past it the user gets the gateway's answer.
    timeout_seconds: float = 8.0
    # Escalations taken by the gateway while neither the action server nor the desk could.
    outbox: str = "var/gateway_outbox.db"


@dataclass(frozen=True)
class MessageWorkerSettings:
    """Rasa worker processes that share the message load of this one (rasa_server/workers.py)."""

    # Each worker's base URL (RASA_WORKER_URLS, comma-separated; `make run` starts one).
    # Empty: this process handles every message itself.
    urls: Tuple[str, ...] = ()
    # Longest wait for a worker's answer before this process answers instead.
    timeout_seconds: float = 30.0
    # Share of new conversations this process keeps; it also carries every connection.
    front_share: float = 0.0
    # Turns handed to each worker at once; the rest wait at the front in arrival order
    # (0: no limit). Measured in results/profile.md.
    max_in_flight: int = 32
    # Shared secret of the front process and its workers (RASA_WORKER_TOKEN); env only.
    token: Optional[str] = field(default=None, repr=False)


@dataclass(frozen=True)
class EvmChainSetting:
    """One EVM chain the transaction lookup asks (chain/): plain JSON-RPC."""

    name: str                      # key, lower case: ethereum, bsc, polygon, arbitrum (env CHAIN_RPC_<NAME>)
    label: str                     # as users and the desk see it: Ethereum, BSC, ...
    rpc_url: Optional[str]         # empty: this chain is not looked up
    native_symbol: str = "ETH"
    explorer_hosts: Tuple[str, ...] = ()


@dataclass(frozen=True)
class ChainSettings:
    """The transaction lookup's endpoints (chain/, actions/tx_lookup.py). A chain without a URL is skipped."""

    evm: Tuple[EvmChainSetting, ...] = ()
    tron_api_url: Optional[str] = None          # TronGrid-compatible HTTP API (TRON_API_URL)
    tron_explorer_hosts: Tuple[str, ...] = ("tronscan.org",)
    btc_esplora_url: Optional[str] = None       # Esplora REST API (BTC_ESPLORA_URL)
    btc_explorer_hosts: Tuple[str, ...] = ("mempool.space", "blockchair.com")
    timeout_seconds: float = 3.0                # one endpoint call
    cache_seconds: float = 15.0                 # a looked-up state is reused this long
    breaker_failures: int = 3                   # consecutive failures that open an endpoint's breaker
    breaker_reset_seconds: float = 30.0         # then one trial call is let through

    def evm_chain(self, name: str) -> Optional[EvmChainSetting]:
        return next((c for c in self.evm if c.name == name.lower()), None)


@dataclass(frozen=True)
class PerformanceSettings:
    """Work the Rasa processes skip without changing an answer (issue #21, results/profile.md).

    ``optimisations`` off (RASA_OPTIMISATIONS=off) runs every message the stock way: the
    tests compare the answers both ways.
    """

    optimisations: bool = True
    # NLU parses kept per loaded model, by message text (rasa_server/parse_cache.py); 0: none.
    parse_cache_size: int = 4096
    # Next-action predictions kept per loaded model, by dialogue state (rasa_server/prediction_cache.py); 0: none.
    prediction_cache_size: int = 4096

    @property
    def parse_cache_entries(self) -> int:
        return self.parse_cache_size if self.optimisations else 0

    @property
    def prediction_cache_entries(self) -> int:
        return self.prediction_cache_size if self.optimisations else 0


@dataclass(frozen=True)
class Settings:
    """Deployment settings shared by the NLU components, NLG and action server."""

    official_domains: Tuple[str, ...]
    trusted_explorers: Tuple[str, ...]
    default_language: str = "zh"
    # Longer messages are refused with a polite reason (no model needs more).
    max_message_chars: int = 2000
    # Shared secret Rasa sends to the action server (endpoints.yml `token`).
    # Only from the environment: `make run` generates one into var/secrets.env.
    action_server_token: Optional[str] = field(default=None, repr=False)
    desk: DeskSettings = field(default_factory=DeskSettings)
    telegram: TelegramSettings = field(default_factory=TelegramSettings)
    socketio: SocketIOSettings = field(default_factory=SocketIOSettings)
    action_gateway: ActionGatewaySettings = field(default_factory=ActionGatewaySettings)
    workers: MessageWorkerSettings = field(default_factory=MessageWorkerSettings)
    # Messages kept while the tracker store is down, replayed when it answers (rasa_server/spool.py).
    message_spool: str = "var/message_spool.db"
    # Rasa's HTTP API token: guards operator routes of our channels too (set_webhook).
    rasa_api_token: Optional[str] = field(default=None, repr=False)
    # The REST channel is for server-to-server integrations: with REST_CHANNEL_TOKEN set, every
    # call needs `Authorization: Bearer <token>` (off by default, for a local `make run`).
    rest_channel_token: Optional[str] = field(default=None, repr=False)
    chains: ChainSettings = field(default_factory=ChainSettings)
    performance: PerformanceSettings = field(default_factory=PerformanceSettings)

    @property
    def allowed_link_domains(self) -> Tuple[str, ...]:
        """Every domain a response may link to or name (subdomains included)."""
        return self.official_domains + self.trusted_explorers

    def is_allowed_domain(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        return any(host == d or host.endswith("." + d) for d in self.allowed_link_domains)


def load_settings(path: Optional[Path] = None, env: Mapping[str, str] = os.environ) -> Settings:
    """Build Settings from the YAML file, then apply environment overrides."""
    path = Path(env.get("WALLET_SUPPORT_SETTINGS", path or DEFAULT_SETTINGS_FILE))
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    links = raw.get("links", {})
    settings = Settings(
        official_domains=tuple(links.get("official_domains", [])),
        trusted_explorers=tuple(links.get("trusted_explorers", [])),
        default_language=env.get("WALLET_SUPPORT_DEFAULT_LANGUAGE", raw.get("default_language", "zh")),
        max_message_chars=int(raw.get("limits", {}).get("max_message_chars", 2000)),
        action_server_token=env.get("ACTION_SERVER_TOKEN") or None,
        desk=_desk_settings(raw.get("desk", {}), env),
        telegram=_telegram_settings(raw.get("telegram", {}) or {}, env),
        socketio=SocketIOSettings(
            allowed_origins=tuple(
                o.strip().rstrip("/") for o in env.get("SOCKETIO_ALLOWED_ORIGINS", "").split(",") if o.strip()
            ) or tuple(str(o).rstrip("/") for o in (raw.get("socketio", {}) or {}).get("allowed_origins", SocketIOSettings().allowed_origins)),
            public_url=env.get("SOCKETIO_PUBLIC_URL", (raw.get("socketio", {}) or {}).get("public_url", SocketIOSettings().public_url)).rstrip("/"),
            session_secret=env.get("SOCKETIO_SESSION_SECRET") or None,
            redis_url=env.get("SOCKETIO_REDIS_URL") or (raw.get("socketio", {}) or {}).get("redis_url") or None,
        ),
        action_gateway=_gateway_settings(raw.get("action_gateway", {}) or {}, env),
        workers=_worker_settings(raw.get("workers", {}) or {}, env),
        message_spool=env.get("MESSAGE_SPOOL_DB", raw.get("message_spool", "var/message_spool.db")),
        rasa_api_token=env.get("RASA_API_TOKEN") or None,
        rest_channel_token=env.get("REST_CHANNEL_TOKEN") or None,
        chains=_chain_settings(raw.get("chains", {}) or {}, env),
        performance=_performance_settings(raw.get("performance", {}) or {}, env),
    )
    if settings.default_language not in ("zh", "en"):
        raise ValueError(f"default_language must be 'zh' or 'en', not {settings.default_language!r}")
    if not settings.official_domains:
        raise ValueError(f"{path}: links.official_domains must list at least one domain")
    return settings


def _gateway_settings(raw: Mapping, env: Mapping[str, str]) -> ActionGatewaySettings:
    defaults = ActionGatewaySettings()
    return ActionGatewaySettings(
        upstream_url=env.get("ACTION_SERVER_URL", raw.get("upstream_url", defaults.upstream_url)),
        timeout_seconds=float(env.get("ACTION_TIMEOUT_SECONDS", raw.get("timeout_seconds", defaults.timeout_seconds))),
        outbox=env.get("GATEWAY_OUTBOX_DB", raw.get("outbox", defaults.outbox)),
    )


def _worker_settings(raw: Mapping, env: Mapping[str, str]) -> MessageWorkerSettings:
    defaults = MessageWorkerSettings()
    urls = env.get("RASA_WORKER_URLS")
    listed = urls.split(",") if urls is not None else list(raw.get("urls") or [])
    return MessageWorkerSettings(
        urls=tuple(str(u).strip().rstrip("/") for u in listed if str(u).strip()),
        timeout_seconds=float(env.get("RASA_WORKER_TIMEOUT_SECONDS", raw.get("timeout_seconds", defaults.timeout_seconds))),
        front_share=float(env.get("RASA_FRONT_SHARE", raw.get("front_share", defaults.front_share))),
        max_in_flight=max(0, int(env.get("RASA_WORKER_MAX_IN_FLIGHT", raw.get("max_in_flight", defaults.max_in_flight)))),
        token=env.get("RASA_WORKER_TOKEN") or None,
    )


def _telegram_settings(raw: Mapping, env: Mapping[str, str]) -> TelegramSettings:
    defaults = TelegramSettings()
    return TelegramSettings(
        api_base_url=env.get("TELEGRAM_API_BASE", raw.get("api_base_url", defaults.api_base_url)).rstrip("/"),
        webhook_url=env.get("TELEGRAM_WEBHOOK_URL", raw.get("webhook_url")) or None,
        bot_username=env.get("TELEGRAM_BOT_USERNAME", raw.get("bot_username")) or None,
        dedupe_db=env.get("TELEGRAM_DEDUPE_DB", raw.get("dedupe_db", defaults.dedupe_db)),
        bot_token=env.get("TELEGRAM_BOT_TOKEN") or None,
        webhook_secret=env.get("TELEGRAM_WEBHOOK_SECRET") or None,
    )


def _desk_settings(raw: Mapping, env: Mapping[str, str]) -> DeskSettings:
    defaults = DeskSettings()
    oncall = raw.get("oncall", {}) or {}
    shifts = tuple(
        ShiftSetting(
            weekdays=tuple(int(d) for d in shift.get("weekdays", range(7))),
            start=str(shift["start"]),
            end=str(shift["end"]),
            agents=int(shift.get("agents", 1)),
        )
        for shift in raw.get("shifts", []) or []
    )
    sla = {**defaults.sla_minutes, **{str(k): int(v) for k, v in (raw.get("sla_minutes") or {}).items()}}
    return DeskSettings(
        database_url=env.get("DESK_DATABASE_URL", raw.get("database_url", defaults.database_url)),
        url=env.get("DESK_URL", raw.get("url", defaults.url)).rstrip("/"),
        port=int(env.get("DESK_PORT", raw.get("port", defaults.port))),
        rasa_url=env.get("RASA_URL", raw.get("rasa_url", defaults.rasa_url)).rstrip("/"),
        timezone=raw.get("timezone", defaults.timezone),
        sla_minutes=sla,
        minutes_per_ticket=int(raw.get("minutes_per_ticket", defaults.minutes_per_ticket)),
        default_shifts=shifts,
        delivery_retry_seconds=float(raw.get("delivery_retry_seconds", defaults.delivery_retry_seconds)),
        escalation_outbox=env.get("ESCALATION_OUTBOX_DB", raw.get("escalation_outbox", defaults.escalation_outbox)),
        oncall_telegram_api_base=env.get(
            "ONCALL_TELEGRAM_API_BASE", oncall.get("telegram_api_base", defaults.oncall_telegram_api_base)
        ).rstrip("/"),
        oncall_telegram_chat_id=env.get("ONCALL_TELEGRAM_CHAT_ID") or oncall.get("telegram_chat_id"),
        api_token=env.get("DESK_API_TOKEN") or None,
        rasa_api_token=env.get("RASA_API_TOKEN") or None,
        oncall_telegram_bot_token=env.get("ONCALL_TELEGRAM_BOT_TOKEN") or None,
    )


def _switch(value: object) -> bool:
    """A yes/no setting from YAML or the environment ("off", "0", "false", "no" are off)."""
    return str(value).strip().lower() not in ("off", "0", "false", "no", "")


def _performance_settings(raw: Mapping, env: Mapping[str, str]) -> PerformanceSettings:
    defaults = PerformanceSettings()
    return PerformanceSettings(
        optimisations=_switch(env.get("RASA_OPTIMISATIONS", raw.get("optimisations", defaults.optimisations))),
        parse_cache_size=int(env.get("PARSE_CACHE_SIZE", raw.get("parse_cache_size", defaults.parse_cache_size))),
        prediction_cache_size=int(env.get("PREDICTION_CACHE_SIZE",
                                          raw.get("prediction_cache_size", defaults.prediction_cache_size))),
    )


def _chain_settings(raw: Mapping, env: Mapping[str, str]) -> ChainSettings:
    defaults = ChainSettings()
    evm = tuple(
        EvmChainSetting(
            name=str(chain["name"]).lower(),
            label=str(chain.get("label") or chain["name"]),
            rpc_url=(env.get(f"CHAIN_RPC_{str(chain['name']).upper()}") or chain.get("rpc_url") or None),
            native_symbol=str(chain.get("native_symbol", "ETH")),
            explorer_hosts=tuple(str(h).lower() for h in chain.get("explorer_hosts") or ()),
        )
        for chain in raw.get("evm") or []
    )
    tron, btc, breaker = raw.get("tron") or {}, raw.get("bitcoin") or {}, raw.get("breaker") or {}
    return ChainSettings(
        evm=evm,
        tron_api_url=(env.get("TRON_API_URL") or tron.get("api_url") or None),
        tron_explorer_hosts=tuple(tron.get("explorer_hosts") or defaults.tron_explorer_hosts),
        btc_esplora_url=(env.get("BTC_ESPLORA_URL") or btc.get("esplora_url") or None),
        btc_explorer_hosts=tuple(btc.get("explorer_hosts") or defaults.btc_explorer_hosts),
        timeout_seconds=float(env.get("CHAIN_TIMEOUT_SECONDS", raw.get("timeout_seconds", defaults.timeout_seconds))),
        cache_seconds=float(raw.get("cache_seconds", defaults.cache_seconds)),
        breaker_failures=int(breaker.get("failures", defaults.breaker_failures)),
        breaker_reset_seconds=float(breaker.get("reset_seconds", defaults.breaker_reset_seconds)),
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
