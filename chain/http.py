"""One endpoint: a timeout on every call and a circuit breaker, so a dead node costs nothing for a while."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Optional

import aiohttp

logger = logging.getLogger(__name__)


class EndpointDown(Exception):
    """The endpoint failed, timed out, or its breaker is open: the answer is unknown, not "not found"."""


class Breaker:
    """Open after ``failures`` consecutive failures; after ``reset_seconds`` one trial call goes through."""

    def __init__(self, failures: int = 3, reset_seconds: float = 30.0) -> None:
        self.threshold, self.reset_seconds = max(1, failures), reset_seconds
        self.failures = 0
        self.opened_at: Optional[float] = None

    def allow(self) -> bool:
        if self.opened_at is None:
            return True
        if time.monotonic() - self.opened_at >= self.reset_seconds:
            self.opened_at = time.monotonic()  # half open: this call is the trial, the others wait again
            return True
        return False

    def success(self) -> None:
        self.failures, self.opened_at = 0, None

    def failure(self) -> None:
        self.failures += 1
        if self.failures >= self.threshold:
            self.opened_at = time.monotonic()

    @property
    def open(self) -> bool:
        return self.opened_at is not None


class Endpoint:
    """JSON over HTTP to one base URL. ``None`` for a 404 (``not_found_status``), EndpointDown for anything unusable."""

    def __init__(self, url: str, timeout_seconds: float, breaker: Breaker) -> None:
        self.url = url.rstrip("/")
        self.timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self.breaker = breaker
        self._session: Optional[aiohttp.ClientSession] = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        return self._session

    async def request(self, method: str, path: str = "", json: Any = None, expect_json: bool = True) -> Any:
        if not self.breaker.allow():
            raise EndpointDown(f"{self.url}: circuit open")
        try:
            async with self._client().request(method, self.url + path, json=json) as answer:
                if answer.status == 404:
                    self.breaker.success()
                    return None
                if answer.status >= 400:
                    raise EndpointDown(f"{self.url}{path}: HTTP {answer.status}")
                body = await (answer.json(content_type=None) if expect_json else answer.text())
        except EndpointDown:
            self.breaker.failure()
            raise
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError, ValueError) as error:
            self.breaker.failure()
            raise EndpointDown(f"{self.url}{path}: {type(error).__name__}") from error
        self.breaker.success()
        return body

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
