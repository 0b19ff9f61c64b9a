"""Base class of the actions that talk to the desk (action server and the gateway's local actions)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Optional, Text

from rasa_sdk import Action

from deskapi.client import DeskClient, get_desk_client


class DeskAction(Action, ABC):
    """An action that talks to the desk: injectable for tests, abstract so rasa-sdk skips it."""

    def __init__(self, desk: Optional[DeskClient] = None) -> None:
        self._desk = desk

    @property
    def desk(self) -> Optional[DeskClient]:
        return self._desk or get_desk_client()

    @abstractmethod
    def name(self) -> Text:
        """The action's name in the domain."""
