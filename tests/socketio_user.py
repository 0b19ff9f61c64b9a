"""A socket.io user, as the web widget behaves: one session, every bot message collected."""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Dict, List, Optional

import socketio


# The page the widget is served from in tests (an allowed origin, see tests/servers.py).
WIDGET_ORIGIN = "http://localhost:8080"


class SocketIOUser:
    """``session_id``: what the client presents (the widget's stored id); the server decides."""

    def __init__(self, url: str, session_id: Optional[str] = None, origin: Optional[str] = None) -> None:
        self.received: List[Dict[str, Any]] = []
        self.refusals: List[Dict[str, Any]] = []
        self._changed = threading.Condition()
        # websocket-client sends this Origin instead of one derived from the URL.
        # request_timeout: a busy server (the previous test's flood still draining) may take more than 5 s.
        self.client = socketio.Client(reconnection=False, request_timeout=60,
                                      websocket_extra_options={"origin": origin or WIDGET_ORIGIN})
        confirmed = threading.Event()
        self.session_id = ""

        def on_confirm(session: str) -> None:
            self.session_id = session
            confirmed.set()

        self.client.on("session_confirm", on_confirm)
        self.client.on("bot_uttered", self._collect)
        self.client.on("message_refused", self._refused)
        self.client.connect(url, transports=["websocket"], wait_timeout=30)
        self.client.emit("session_request", {"session_id": session_id})
        if not confirmed.wait(30):
            raise TimeoutError("no session_confirm")

    def _refused(self, data: Dict[str, Any]) -> None:
        with self._changed:
            self.refusals.append(data)
            self._changed.notify_all()

    def wait_for_reply_or_refusal(self, since_reply: int, since_refusal: int, timeout: float = 30) -> str:
        """"reply" or "refusal", whichever comes first after the given counts."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                if len(self.received) > since_reply:
                    return "reply"
                if len(self.refusals) > since_refusal:
                    return "refusal"
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("neither a reply nor a refusal")
                self._changed.wait(left)

    def send_raw(self, payload: Any) -> None:
        self.client.emit("user_uttered", payload)

    def wait_for_refusal(self, timeout: float = 30) -> Dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not self.refusals:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("no message_refused event")
                self._changed.wait(left)
            return self.refusals.pop(0)

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
