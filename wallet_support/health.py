"""The Rasa process's health report: each dependency's state, not just "the process answers" (SPEC §6)."""

from __future__ import annotations

import asyncio
from typing import Any, Dict

import aiohttp

from rasa.core.tracker_store import InMemoryTrackerStore

from wallet_support.settings import get_settings
from wallet_support.spool import get_spool
from wallet_support.tracker_guard import StrictTrackerStore, monitor


def tracker_store_state(agent: Any) -> str:
    store = getattr(agent, "tracker_store", None)
    if store is None:
        return "not loaded"
    if not isinstance(store, StrictTrackerStore):
        return "unguarded (fail-safe to memory)"
    if isinstance(store.inner, InMemoryTrackerStore):
        # Rasa falls back to this when a configured store class cannot be imported.
        return "in memory only (conversations are lost at restart)"
    try:
        store.ping()
    except Exception as error:  # noqa: BLE001 - reported, not raised
        monitor.failed("ping", error)
        return f"unavailable ({monitor.last_error})"
    if monitor.recently_failed():
        return f"failing ({monitor.last_error})"
    return "ok"


def lock_store_state(agent: Any) -> str:
    lock_store = getattr(agent, "lock_store", None)
    redis = getattr(lock_store, "red", None)
    if redis is None:
        return "ok (in memory: one Rasa process)"
    try:
        redis.ping()
        return "ok (redis)"
    except Exception as error:  # noqa: BLE001
        return f"unavailable ({type(error).__name__})"


async def desk_state() -> str:
    url = get_settings().desk.url + "/health"
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=3)) as session:
            async with session.get(url) as answer:
                return "ok" if answer.status == 200 else f"unhealthy (HTTP {answer.status})"
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as error:
        return f"unavailable ({type(error).__name__})"


async def rasa_health(app: Any, gateway: Any) -> Dict[str, Any]:
    agent = getattr(app.ctx, "agent", None)
    report: Dict[str, Any] = {
        "model": "ok" if agent is not None and agent.is_ready() else "not loaded",
        "tracker_store": tracker_store_state(agent),
        "lock_store": lock_store_state(agent),
        "action_server": await gateway.upstream_health(),
        "desk": await desk_state(),
        "gateway_outbox_pending": len(gateway.outbox.pending()),
        "spooled_messages": len(get_spool().pending()),
        "action_failures_answered_by_gateway": gateway.failures,
    }
    essential = ("model", "tracker_store", "lock_store", "action_server", "desk")
    report["status"] = "ok" if all(str(report[k]).startswith("ok") for k in essential) else "degraded"
    return report
