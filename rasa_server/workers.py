"""Spread user messages over this Rasa process and its worker processes, one conversation to one process.

A Rasa process runs its turns on one event loop, so it uses one core; under
load it was CPU-bound on one of this machine's two cores while the other idled
(results/bench.md). Rasa's own answer, Sanic workers, shares one listening
socket between processes, and socket.io's long-polling handshake (what the
rasa-webchat widget opens with) breaks when its requests land on different
processes; so does delivering a reply to a widget connected elsewhere.

So the process users connect to (the *front*) keeps every connection, socket
and channel, and hands the *turns* of conversations to worker processes
(``channels/worker.py``). Each conversation gets a home when it first writes
(new conversations are dealt out by share; the front keeps none by default,
since it also sends and receives everything: ``workers.front_share``), so its kept tracker stays warm there
and its messages stay in order. The worker answers with the bot's messages and
the front sends them on the user's channel. Locks across processes:
``rasa_server/lock_store.py``; trackers: the shared tracker store.

When a worker cannot be reached the front handles the message itself and
leaves that worker out for a while. A worker that took the message but did not
answer in time may still have handled it; the front answers then too (a reply
twice is better than none) and logs it. What such a turn sends the desk (an
escalation, a relayed message) carries an idempotency key derived from the
message id, which both runs share, so the desk stores it once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from functools import lru_cache
from typing import Any, Awaitable, Callable, Dict, Optional, Sequence

import aiohttp
from rasa.core.channels.channel import UserMessage

from settings import get_settings
from safety.tokens import token_matches
from rasa_server.tracker_guard import TrackerStoreUnavailable

logger = logging.getLogger(__name__)

WORKER_PATH = "/webhooks/worker/webhook"
# After a failure the worker is left out for this long (connect errors: it is down).
UNREACHABLE_PAUSE_SECONDS = 5.0
FAILED_PAUSE_SECONDS = 30.0
# The front keeps ``max_in_flight`` connections to each worker open, idle ones for this long
# (the worker keeps them longer: channels/worker.py), and touches them all this often. A flood
# after a quiet spell then starts on open connections: opening one per turn to a worker already
# busy with the first turns delayed the last first messages by up to a second (results/profile.md).
IDLE_CONNECTION_SECONDS = 1800.0
TOUCH_CONNECTIONS_SECONDS = 300.0


class MessageWorkers:
    """This process and its workers; each conversation gets a home where its turns run."""

    def __init__(self, urls: Sequence[str], token: Optional[str], timeout_seconds: float,
                 front_share: float = 0.0, remembered: int = 100_000, max_in_flight: int = 32) -> None:
        self.urls = tuple(urls)
        # This process's share of new conversations; the workers split the rest evenly.
        self.shares: Dict[Optional[str], float] = {
            None: front_share, **{url: (1.0 - front_share) / max(1, len(self.urls)) for url in self.urls}}
        self._assigned: Dict[Optional[str], int] = {home: 0 for home in self.shares}
        self.token = token
        self.timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        # Turns handed to each worker at once (0: no limit). The others wait here, first come
        # first served (asyncio wakes a semaphore's waiters in order), not counted in the timeout:
        # under a flood of new conversations, handing every turn over at once let the later
        # turns of early conversations overtake the first messages of late ones, and opened a
        # new connection to the busy worker for each (results/profile.md).
        self.max_in_flight = max_in_flight
        self._in_flight: Dict[str, asyncio.Semaphore] = {}
        self.remembered = remembered
        self._homes: "OrderedDict[str, Optional[str]]" = OrderedDict()
        self._paused_until: Dict[str, float] = {}
        self._session: Optional[aiohttp.ClientSession] = None
        self.forwarded = 0
        self.handled_here_instead = 0

    def home(self, sender_id: str) -> Optional[str]:
        """The worker URL that runs this conversation's turns; None for this process.

        New conversations are dealt out by share (this process takes less: it also
        carries every connection and sends every answer) and keep their home, so
        their kept tracker stays warm. Homes are only an affinity: a conversation
        may move (after a restart, or while its worker is down) because the
        tracker store and the lock file are shared.
        """
        if not self.urls:
            return None
        home = self._homes.get(sender_id, "")
        if home != "" and (home is None or self._available(home)):
            self._homes.move_to_end(sender_id)
            return home
        candidates = [url for url in self.urls if self._available(url)] + [None]
        home = min(candidates, key=lambda url: (self._assigned[url] + 1) / max(self.shares[url], 1e-9))
        self._assigned[home] += 1
        self._homes[sender_id] = home
        while len(self._homes) > self.remembered:
            self._homes.popitem(last=False)
        return home

    def _available(self, url: str) -> bool:
        return self._paused_until.get(url, 0.0) <= time.monotonic()

    def _pause(self, url: str, seconds: float) -> None:
        self._paused_until[url] = time.monotonic() + seconds

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=IDLE_CONNECTION_SECONDS)
            self._session = aiohttp.ClientSession(timeout=self.timeout, connector=connector,
                                                  headers={"Authorization": f"Bearer {self.token or ''}"})
        return self._session

    async def handle(self, message: UserMessage, here: Callable[[UserMessage], Awaitable[Any]]) -> Any:
        """Run the turn at the conversation's home: ``here`` (this process) or its worker."""
        url = self.home(message.sender_id) if isinstance(message.text, str) else None
        if url is not None and await self._forward(url, message):
            return None
        return await here(message)

    async def _forward(self, url: str, message: UserMessage) -> bool:
        """Have the worker run this turn and send its answer on the message's channel; False: run it here."""
        body = {"sender_id": message.sender_id, "text": message.text, "input_channel": message.input_channel,
                "metadata": message.metadata, "message_id": message.message_id}
        try:
            async with self._turn_slot(url):
                async with self._client().post(url + WORKER_PATH, json=body) as answer:
                    result = await answer.json(content_type=None)
                    status = answer.status
        except aiohttp.ClientConnectorError as error:
            return self._run_here_instead(url, UNREACHABLE_PAUSE_SECONDS,
                                          f"worker {url} unreachable ({error}); this process answers its conversations for now")
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as error:
            return self._run_here_instead(url, FAILED_PAUSE_SECONDS, f"worker {url} took message of {message.sender_id} "
                                                                     f"but gave no answer ({error!r}); answering here, possibly twice")
        if status == 503 and isinstance(result, dict) and result.get("error") == "tracker_store_unavailable":
            raise TrackerStoreUnavailable(f"worker {url}: the tracker store is unavailable")
        if status != 200 or not isinstance(result, dict) or not isinstance(result.get("messages"), list):
            return self._run_here_instead(url, FAILED_PAUSE_SECONDS, f"worker {url} refused message of "
                                                                     f"{message.sender_id} (HTTP {status}: {str(result)[:200]}); answering here")
        self.forwarded += 1
        for sent in result["messages"]:
            if isinstance(sent, dict):
                sent = dict(sent)
                recipient = sent.pop("recipient_id", None) or message.sender_id
                await message.output_channel.send_response(recipient, sent)
        return True

    async def open_connections(self) -> int:
        """Open (or keep open) ``max_in_flight`` connections to every worker; how many answered."""
        count = max(1, self.max_in_flight)

        async def touch(url: str) -> bool:
            try:
                async with self._client().get(url + "/webhooks/worker/health",
                                              timeout=aiohttp.ClientTimeout(total=10)) as answer:
                    await answer.read()
                    return True
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError):
                return False

        answered = await asyncio.gather(*(touch(url) for url in self.urls for _ in range(count)))
        return sum(answered)

    async def keep_connections_open(self, first_wait_seconds: float = 1.0) -> None:
        """Forever: open the connections (retrying until the workers are up), then touch them now and then."""
        while self.urls and not await self.open_connections():
            await asyncio.sleep(first_wait_seconds)
        while self.urls:
            await asyncio.sleep(TOUCH_CONNECTIONS_SECONDS)
            await self.open_connections()

    def _turn_slot(self, url: str) -> Any:
        """A place among the turns ``url`` runs at once (a no-op without a limit)."""
        if self.max_in_flight <= 0:
            return contextlib.nullcontext()
        if url not in self._in_flight:
            self._in_flight[url] = asyncio.Semaphore(self.max_in_flight)
        return self._in_flight[url]

    def _run_here_instead(self, url: str, pause_seconds: float, reason: str) -> bool:
        """Log why, leave the worker out for ``pause_seconds``, and have this process run the turn."""
        logger.error(reason)
        self._pause(url, pause_seconds)
        self.handled_here_instead += 1
        return False

    async def health(self) -> Dict[str, Dict[str, Any]]:
        """Each worker's own report (``state``: ok, unhealthy or unavailable, plus its backlogs)."""
        report: Dict[str, Dict[str, Any]] = {}
        for url in self.urls:
            try:
                async with self._client().get(url + "/webhooks/worker/health",
                                              timeout=aiohttp.ClientTimeout(total=3)) as answer:
                    own = await answer.json(content_type=None)
                    state = "ok" if answer.status == 200 else f"unhealthy (HTTP {answer.status})"
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError, ValueError) as error:
                own, state = {}, f"unavailable ({type(error).__name__})"
            report[url] = {**(own if isinstance(own, dict) else {}), "state": state}
            report[url].pop("status", None)
        return report

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


@lru_cache(maxsize=1)
def get_workers() -> MessageWorkers:
    settings = get_settings().workers
    return MessageWorkers(settings.urls, settings.token, settings.timeout_seconds, settings.front_share,
                          max_in_flight=settings.max_in_flight)


def worker_token_ok(presented: Any) -> bool:
    """The shared secret check of the worker side."""
    return token_matches(presented, get_settings().workers.token)
