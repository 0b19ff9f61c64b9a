"""Session ids the widget's socket.io channel issues, signed so nobody can pick another user's.

Shared by the channel (which issues and checks them) and the desk's widget
status endpoint (which only trusts a session id this service signed).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from typing import Any, Optional

logger = logging.getLogger(__name__)


class SessionSigner:
    """Session ids of the form ``<random>.<hmac>``; only ids this server issued verify."""

    def __init__(self, secret: Optional[str]) -> None:
        if not secret:
            logger.warning("SOCKETIO_SESSION_SECRET is not set: widget sessions will not survive a restart")
        self._key = (secret or secrets.token_urlsafe(32)).encode()

    def _mac(self, nonce: str) -> str:
        return hmac.new(self._key, nonce.encode(), hashlib.sha256).hexdigest()[:32]

    def issue(self) -> str:
        nonce = secrets.token_urlsafe(18)
        return f"{nonce}.{self._mac(nonce)}"

    def verify(self, session_id: Any) -> bool:
        if not isinstance(session_id, str) or session_id.count(".") != 1 or len(session_id) > 128:
            return False
        nonce, mac = session_id.split(".")
        return bool(nonce) and hmac.compare_digest(mac, self._mac(nonce))
