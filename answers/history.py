"""What the user has said so far, read from the tracker's events."""

from __future__ import annotations

from typing import List, Optional

from rasa_sdk import Tracker


def user_intents(tracker: Tracker) -> List[Optional[str]]:
    """The intent of every user message in the conversation, oldest first."""
    return [
        (event.get("parse_data") or {}).get("intent", {}).get("name")
        for event in tracker.events
        if event.get("event") == "user"
    ]
