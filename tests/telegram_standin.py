"""A loopback stand-in for the Telegram Bot API: records every call, answers like Telegram.

Telegram's servers cannot be reached from tests; everything else (our HTTP
client, the JSON we send, the bot token in the path) is real.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Set


@dataclass
class BotApiCall:
    token: str
    method: str
    body: Dict[str, Any]


@dataclass
class TelegramStandIn:
    server: ThreadingHTTPServer
    calls: List[BotApiCall] = field(default_factory=list)
    # Chats that blocked the bot: Telegram answers sendMessage with 403 for them.
    blocked_chats: Set[str] = field(default_factory=set)
    # Files users "sent": file_id -> bytes, served as the Bot API does (getFile, then /file/bot<token>/<file_path>).
    files: Dict[str, bytes] = field(default_factory=dict)
    downloads: List[str] = field(default_factory=list)

    def add_file(self, file_id: str, data: bytes) -> None:
        self.files[file_id] = data

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def calls_to(self, method: str) -> List[BotApiCall]:
        return [c for c in list(self.calls) if c.method == method]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start_telegram_standin() -> TelegramStandIn:
    standin: TelegramStandIn

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length else b"{}"
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                body = {"_raw": raw.decode(errors="replace")}
            parts = self.path.strip("/").split("/")
            if len(parts) != 2 or not parts[0].startswith("bot"):
                self._answer(404, {"ok": False, "error_code": 404, "description": "Not Found"})
                return
            standin.calls.append(BotApiCall(token=parts[0][3:], method=parts[1], body=body))
            result: Any = True
            if parts[1] == "sendMessage" and str(body.get("chat_id")) in standin.blocked_chats:
                self._answer(403, {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"})
                return
            if parts[1] == "getFile":
                data = standin.files.get(str(body.get("file_id")))
                if data is None:
                    self._answer(400, {"ok": False, "error_code": 400, "description": "Bad Request: invalid file_id"})
                    return
                # As the public Bot API: a File object whose file_path is fetched from /file/bot<token>/<file_path>.
                result = {"file_id": body["file_id"], "file_unique_id": "u" + str(abs(hash(body["file_id"])) % 10**8),
                          "file_size": len(data), "file_path": f"photos/{body['file_id']}.jpg"}
                self._answer(200, {"ok": True, "result": result})
                return
            if parts[1] == "sendMessage":
                result = {"message_id": len(standin.calls), "chat": {"id": body.get("chat_id")}, "text": body.get("text")}
            self._answer(200, {"ok": True, "result": result})

        def do_GET(self) -> None:  # noqa: N802 - file downloads: /file/bot<token>/<file_path>
            parts = self.path.strip("/").split("/", 2)
            if len(parts) != 3 or parts[0] != "file" or not parts[1].startswith("bot"):
                self._answer(404, {"ok": False, "error_code": 404, "description": "Not Found"})
                return
            file_id = parts[2].rsplit("/", 1)[-1].rsplit(".", 1)[0]
            data = standin.files.get(file_id)
            if data is None:
                self._answer(404, {"ok": False, "error_code": 404, "description": "Not Found"})
                return
            standin.downloads.append(file_id)
            self.send_response(200)
            self.send_header("content-type", "application/octet-stream")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _answer(self, status: int, payload: Dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    standin = TelegramStandIn(server=server)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return standin
