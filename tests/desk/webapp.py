"""The desk's Sanic app served in-process on a free port (no background loops), for route-level tests."""

from __future__ import annotations

import asyncio
import re
import socket
import threading
from typing import Optional

import requests
from sanic import Sanic

from desk.oncall import OnCallAlerts
from desk.rasa_client import RasaClient
from desk.web import Desk, create_app

_apps = 0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RunningDesk:
    """``with RunningDesk(service) as desk:`` → ``desk.url``, ``desk.api(...)``, ``desk.login(...)``."""

    def __init__(self, service, alerts: Optional[OnCallAlerts] = None) -> None:
        global _apps
        _apps += 1
        settings = service.settings
        self.desk = Desk(settings, service, RasaClient("http://127.0.0.1:9", None),
                         alerts or OnCallAlerts("http://127.0.0.1:9", None, None, settings.url))
        # Test mode: Sanic rewrites its protocol class on each start, which only works twice in one process if so.
        Sanic.test_mode = True
        self.app = create_app(self.desk, name=f"desk_test_{_apps}")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._error: Optional[BaseException] = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def start() -> None:
            self._server = await self.app.create_server(host="127.0.0.1", port=self.port, return_asyncio_server=True)
            await self._server.startup()
            await self._server.start_serving()
            self.app.is_running = True  # as app.run() would: app.add_task() runs tasks at once
            self._ready.set()

        try:
            self._loop.run_until_complete(start())
        except BaseException as error:  # surfaced by __enter__ instead of a silent 20-s wait
            self._error = error
            self._ready.set()
            return
        self._loop.run_forever()

    def __enter__(self) -> "RunningDesk":
        self._thread.start()
        # Under a loaded CI machine the first start (Sanic's app setup, the schema) can take a while.
        assert self._ready.wait(60), "the desk did not start within 60 s"
        if self._error is not None:
            raise RuntimeError(f"the desk did not start: {self._error!r}") from self._error
        return self

    def __exit__(self, *exc) -> None:
        async def stop() -> None:
            self._server.close()
            await self._server.wait_closed()
        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def api(self, method: str, path: str, token: str, **kwargs) -> requests.Response:
        return requests.request(method, self.url + path, headers={"Authorization": f"Bearer {token}"}, timeout=30, **kwargs)

    def login(self, username: str, password: str, browser: Optional[requests.Session] = None,
              headers: Optional[dict] = None) -> requests.Response:
        """Fetch the form, then post it; returns the POST's answer (redirects not followed)."""
        browser = browser or requests.Session()
        form = browser.get(self.url + "/desk/login", timeout=30)
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
        # Sent explicitly: a Secure cookie (desk.secure_cookies) would not go back over plain http.
        return browser.post(self.url + "/desk/login", data={"csrf": csrf, "username": username, "password": password},
                            cookies={"desk_prelogin": form.cookies.get("desk_prelogin")},
                            allow_redirects=False, timeout=30, headers=headers or {})
