"""The Rasa process's health report: each dependency's state, not just "the process answers" (SPEC §6)."""

from __future__ import annotations

import asyncio
from typing import Any, Dict

import aiohttp

from rasa.core.tracker_store import InMemoryTrackerStore

from wallet_support.settings import get_settings
from wallet_support.spool import get_spool
from wallet_support.tracker_guard import StrictTrackerStore, monitor
from wallet_support.workers import get_workers


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
    from wallet_support.lock_store import FileLockStore

    lock_store = getattr(agent, "lock_store", None)
    if isinstance(lock_store, FileLockStore):
        return f"ok (file: {lock_store.path}, this machine's Rasa processes)"
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
    """This process's dependencies, and its workers' states; backlogs are the sum over them."""
    agent = getattr(app.ctx, "agent", None)
    workers = await get_workers().health()
    report: Dict[str, Any] = {
        "model": "ok" if agent is not None and agent.is_ready() else "not loaded",
        "tracker_store": tracker_store_state(agent),
        "lock_store": lock_store_state(agent),
        "action_server": await gateway.upstream_health(),
        "desk": await desk_state(),
        "workers": {url: own["state"] for url, own in workers.items()},
        "turns_run_by_workers": get_workers().forwarded,
        "worker_turns_answered_here": get_workers().handled_here_instead,
        "gateway_outbox_pending": len(gateway.outbox.pending()) + sum(
            int(own.get("gateway_outbox_pending") or 0) for own in workers.values()),
        "spooled_messages": len(get_spool().pending()),
        "action_failures_answered_by_gateway": gateway.failures + sum(
            int(own.get("action_failures_answered_by_gateway") or 0) for own in workers.values()),
    }
    essential = ("model", "tracker_store", "lock_store", "action_server", "desk")
    healthy = all(str(report[k]).startswith("ok") for k in essential) and all(
        state == "ok" for state in report["workers"].values())
    report["status"] = "ok" if healthy else "degraded"
    return report
