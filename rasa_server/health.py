"""The Rasa process's readiness and its health report (SPEC §6).

Two questions, two routes on the gateway's blueprint:

- ``GET /webhooks/action_gateway/ready`` (:func:`rasa_readiness`): can *this process* answer a
  message now? Its model is loaded and its tracker store (with the strict guard) answers. 200 or
  503. This is what a load balancer's readiness probe (Kubernetes, compose healthcheck) reads.
  It leaves out the action server and the desk on purpose: when they are down this process
  still answers every message (the gateway's fallback answers and outboxes), so taking the
  pods out of service then would silence every user exactly when the fallback should speak.
- ``GET /webhooks/action_gateway/health`` (:func:`rasa_health`): every dependency's state and the
  backlogs, 503 when any is down. For monitoring and alerting, NOT for readiness.
"""

from __future__ import annotations

import asyncio
from typing import Any, Dict

import aiohttp

from rasa.core.tracker_store import InMemoryTrackerStore

from settings import get_settings
from rasa_server.spool import get_spool
from rasa_server.tracker_guard import StrictTrackerStore, monitor
from rasa_server.workers import get_workers


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
    from rasa_server.lock_store import FileLockStore

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


READY_CHECK_SECONDS = 3.0


async def rasa_readiness(app: Any) -> Dict[str, Any]:
    """Whether this process can answer a message: model loaded, tracker store reachable (not its peers)."""
    agent = getattr(app.ctx, "agent", None)
    model = "ok" if agent is not None and agent.is_ready() else "not loaded"
    try:  # the ping is blocking I/O: off the event loop, and bounded, so a hung database reads as not ready
        store = await asyncio.wait_for(asyncio.get_running_loop().run_in_executor(None, tracker_store_state, agent),
                                       READY_CHECK_SECONDS)
    except asyncio.TimeoutError:
        store = f"unavailable (no answer within {READY_CHECK_SECONDS:g} s)"
    # "failing (...)": the ping just answered, only an earlier call failed; the store is reachable again.
    reachable = store == "ok" or store.startswith("failing")
    ready = model == "ok" and reachable
    return {"status": "ready" if ready else "not ready", "model": model, "tracker_store": store}


async def desk_state() -> str:
    url = get_settings().desk.url + "/health"
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=3)) as session:
            async with session.get(url) as answer:
                return "ok" if answer.status == 200 else f"unhealthy (HTTP {answer.status})"
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as error:
        return f"unavailable ({type(error).__name__})"


async def rasa_health(app: Any, gateway: Any) -> Dict[str, Any]:
    """This process's dependencies, and its workers' states; backlogs are the sum over them.

    ``status`` is "degraded" (the route answers 503) when any dependency is down, the action
    server and the desk included: for monitoring, not a readiness probe (see :func:`rasa_readiness`).
    """
    agent = getattr(app.ctx, "agent", None)
    workers = await get_workers().health()
    outbox, spool = gateway.outbox.queue.counts(), get_spool().queue.counts()
    report: Dict[str, Any] = {
        "model": "ok" if agent is not None and agent.is_ready() else "not loaded",
        "tracker_store": tracker_store_state(agent),
        "lock_store": lock_store_state(agent),
        "action_server": await gateway.upstream_health(),
        "desk": await desk_state(),
        "workers": {url: own["state"] for url, own in workers.items()},
        "turns_run_by_workers": get_workers().forwarded,
        "worker_turns_answered_here": get_workers().handled_here_instead,
        "gateway_outbox_pending": outbox["pending"] + sum(
            int(own.get("gateway_outbox_pending") or 0) for own in workers.values()),
        "gateway_outbox_dead": outbox["dead"] + sum(int(own.get("gateway_outbox_dead") or 0) for own in workers.values()),
        "spooled_messages": spool["pending"],
        "spooled_messages_dead": spool["dead"],
        "action_failures_answered_by_gateway": gateway.failures + sum(
            int(own.get("action_failures_answered_by_gateway") or 0) for own in workers.values()),
    }
    essential = ("model", "tracker_store", "lock_store", "action_server", "desk")
    healthy = all(str(report[k]).startswith("ok") for k in essential) and all(
        state == "ok" for state in report["workers"].values())
    report["status"] = "ok" if healthy else "degraded"
    return report
