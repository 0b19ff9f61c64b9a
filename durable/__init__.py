"""Durable work queues on SQLite: one module for the escalation and gateway outboxes, the message spool
and the Telegram update ledger. Imported by the action server (escalation outbox) and the Rasa
server process (gateway outbox, spool, Telegram ledger)."""

from durable.queue import DurableQueue, Entry, Permanent, drain_forever, drain_once

__all__ = ["DurableQueue", "Entry", "Permanent", "drain_forever", "drain_once"]
