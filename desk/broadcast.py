"""Sends incident updates to their subscribers through the bot.

For each conversation with a due delivery the desk triggers the internal
intent ``desk_incident_update``; the bot's action fetches the pending notices
from the desk, says them on the user's latest channel and acknowledges them.
Conversations are handled concurrently (bounded) and each with its own
timeout, so one slow or failing chat never holds up the rest; whatever was not
acknowledged backs off and is retried until its attempts run out.
"""

from __future__ import annotations

import asyncio
import logging
from typing import List

from desk.incidents import IncidentService
from desk.rasa_client import INCIDENT_UPDATE_INTENT, RasaClient, RasaUnavailable
from desk.schedule import utcnow

logger = logging.getLogger(__name__)


class IncidentBroadcaster:
    def __init__(self, incidents: IncidentService, rasa: RasaClient, concurrency: int = 8,
                 per_conversation_timeout: float = 20.0) -> None:
        self.incidents = incidents
        self.rasa = rasa
        self.concurrency = concurrency
        self.timeout = per_conversation_timeout
        self._busy: set = set()

    async def deliver(self, conversation_id: str) -> None:
        """One attempt for one conversation; failures are recorded, never raised."""
        if conversation_id in self._busy:
            return
        self._busy.add(conversation_id)
        attempt = utcnow()
        try:
            await asyncio.wait_for(self.rasa.trigger(conversation_id, INCIDENT_UPDATE_INTENT), self.timeout)
            error = "not acknowledged by the bot"
        except (RasaUnavailable, asyncio.TimeoutError) as failure:
            error = str(failure) or "timed out"
            # The bot may have acknowledged before its channel failed (e.g. the user blocked
            # the Telegram bot): that was no delivery, so it is attempted again.
            self.incidents.undo_delivery(conversation_id, since=attempt)
        except Exception as failure:  # noqa: BLE001 - one conversation's bug must not stop the broadcast
            logger.exception("incident delivery to %s failed", conversation_id)
            error = repr(failure)
        finally:
            self._busy.discard(conversation_id)
        if self.incidents.pending_deliveries(conversation_id):
            logger.warning("incident update for %s not delivered yet: %s", conversation_id, error)
            self.incidents.note_failure(conversation_id, error)

    async def run_round(self) -> List[str]:
        """Attempt every conversation that is due now; returns them."""
        due = self.incidents.conversations_due()
        gate = asyncio.Semaphore(self.concurrency)

        async def one(conversation_id: str) -> None:
            async with gate:
                await self.deliver(conversation_id)

        await asyncio.gather(*(one(c) for c in due))
        return due

    async def loop(self, interval: float) -> None:
        while True:
            try:
                await self.run_round()
            except Exception:  # the loop must outlive one bad round (e.g. the database restarting)
                logger.exception("incident broadcast round failed")
            await asyncio.sleep(interval)
