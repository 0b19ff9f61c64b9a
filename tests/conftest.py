"""Shared fixtures: the project's domain, and rasa-sdk trackers built from events."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import pytest
from rasa.shared.core.domain import Domain
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def project_root() -> Path:
    return PROJECT_ROOT


@pytest.fixture(scope="session")
def rasa_domain() -> Domain:
    return Domain.load(str(PROJECT_ROOT / "domain"))


@pytest.fixture(scope="session")
def domain(rasa_domain: Domain) -> Dict[str, Any]:
    """The domain as the action server receives it."""
    return rasa_domain.as_dict()


@pytest.fixture(scope="session")
def stack(tmp_path_factory, telegram):
    """The real action server and Rasa server, started once for the whole run."""
    from tests.servers import start_stack  # tests.servers imports this module

    running = start_stack(tmp_path_factory.mktemp("stack"), telegram_api=telegram.url)
    print(f"servers ready in {running.start_seconds:.1f} s")
    yield running
    running.stop()


@pytest.fixture(scope="session")
def telegram():
    """The loopback Bot API stand-in the stack's on-call alerts (and Telegram channel) talk to."""
    from tests.telegram_standin import start_telegram_standin

    standin = start_telegram_standin()
    yield standin
    standin.stop()


@pytest.fixture
def dispatcher() -> CollectingDispatcher:
    return CollectingDispatcher()


def user_event(text: str, intent: Optional[str], ranking: Optional[List[Dict[str, Any]]] = None) -> Dict[str, Any]:
    """A ``user`` event as the Rasa server sends it to the action server."""
    parse_data = {
        "text": text,
        "intent": {"name": intent, "confidence": 0.9 if intent else 0.0},
        "intent_ranking": ranking or [],
        "entities": [],
    }
    return {"event": "user", "text": text, "parse_data": parse_data}


@pytest.fixture
def make_tracker() -> Callable[..., Tracker]:
    """Build a tracker from user turns: ``make_tracker(("怎么创建钱包", "create_wallet"), ...)``."""

    def build(*turns: Any, slots: Optional[Dict[str, Any]] = None, sender_id: str = "user-1") -> Tracker:
        events = [user_event(*turn) for turn in turns]
        latest = events[-1]["parse_data"] if events else {}
        return Tracker.from_dict(
            {
                "sender_id": sender_id,
                "slots": slots or {},
                "latest_message": latest,
                "events": events,
                "paused": False,
                "followup_action": None,
                "active_loop": {},
                "latest_action_name": "action_listen",
            }
        )

    return build
