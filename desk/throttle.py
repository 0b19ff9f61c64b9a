"""Failed desk logins counted per username and per client address, in memory (one desk process).

More than ``max_failures`` failures in ``window_seconds`` for a username, or
from an address, and further attempts are refused (HTTP 429) until the oldest
failure leaves the window, even with the right password. A successful login
clears its username's count, never its address's.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Callable, Deque, Dict, Optional

MAX_KEYS = 100_000  # bounded memory under a spray of usernames or addresses


class LoginThrottle:
    def __init__(self, max_failures: int = 5, window_seconds: float = 300,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_failures, self.window_seconds, self._clock = max_failures, window_seconds, clock
        self._failures: Dict[str, Deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> Deque[float]:
        times = self._failures.get(key, deque())
        while times and now - times[0] >= self.window_seconds:
            times.popleft()
        if not times:
            self._failures.pop(key, None)
        return times

    def refusal(self, username: str, address: str) -> Optional[str]:
        """Why this attempt is refused, or None when it may go ahead."""
        now = self._clock()
        with self._lock:
            for key, what in ((f"user:{username}", f"the username {username!r}"), (f"addr:{address}", "your address")):
                times = self._recent(key, now)
                if len(times) >= self.max_failures:
                    wait = int(self.window_seconds - (now - times[0])) + 1
                    return (f"too many failed logins for {what} ({len(times)} in {int(self.window_seconds // 60)} minutes); "
                            f"try again in {wait} seconds")
        return None

    def failed(self, username: str, address: str) -> None:
        now = self._clock()
        with self._lock:
            if len(self._failures) >= MAX_KEYS:
                for key in list(self._failures)[: MAX_KEYS // 10]:
                    self._recent(key, now)
                while len(self._failures) >= MAX_KEYS:  # still full: forget the oldest keys
                    self._failures.pop(next(iter(self._failures)))
            for key in (f"user:{username}", f"addr:{address}"):
                times = self._recent(key, now)
                times.append(now)
                self._failures[key] = times

    def succeeded(self, username: str) -> None:
        with self._lock:
            self._failures.pop(f"user:{username}", None)
