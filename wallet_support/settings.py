"""The one settings object: ``settings.yml`` in the project root, overridden by env.

Read once per process (``get_settings``); modules receive values from here
instead of reading ``os.environ`` themselves.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Mapping, Optional, Tuple

import yaml

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SETTINGS_FILE = PROJECT_ROOT / "settings.yml"


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
    )
    if settings.default_language not in ("zh", "en"):
        raise ValueError(f"default_language must be 'zh' or 'en', not {settings.default_language!r}")
    if not settings.official_domains:
        raise ValueError(f"{path}: links.official_domains must list at least one domain")
    return settings


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
