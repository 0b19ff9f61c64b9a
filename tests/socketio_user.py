"""A socket.io user, as the web widget behaves: one session, every bot message collected."""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Dict, List

import socketio


class SocketIOUser:
    def __init__(self, url: str, session_id: str) -> None:
        self.session_id = session_id
        self.received: List[Dict[str, Any]] = []
        self._changed = threading.Condition()
        self.client = socketio.Client(reconnection=False)
        confirmed = threading.Event()
        self.client.on("session_confirm", lambda _data: confirmed.set())
        self.client.on("bot_uttered", self._collect)
        self.client.connect(url, transports=["polling"], wait_timeout=30)
        self.client.emit("session_request", {"session_id": session_id})
        if not confirmed.wait(30):
            raise TimeoutError("no session_confirm")

    def _collect(self, data: Dict[str, Any]) -> None:
        with self._changed:
            self.received.append(data)
            self._changed.notify_all()

    def say(self, text: str) -> None:
        self.client.emit("user_uttered", {"message": text, "session_id": self.session_id})

    def texts(self) -> List[str]:
        return [m.get("text") or "" for m in list(self.received)]

    def wait_for(self, predicate: Callable[[Dict[str, Any]], bool], timeout: float = 60, since: int = 0) -> Dict[str, Any]:
        """The first message after index ``since`` that satisfies ``predicate``."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for message in self.received[since:]:
                    if predicate(message):
                        return message
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no matching bot message; got {self.texts()[since:]}")
                self._changed.wait(left)

    def wait_for_text(self, fragment: str, timeout: float = 60, since: int = 0) -> Dict[str, Any]:
        return self.wait_for(lambda m: fragment in (m.get("text") or ""), timeout, since)

    def close(self) -> None:
        self.client.disconnect()
