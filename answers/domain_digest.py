"""The domain travels to the action server once per model, not with every call.

Rasa 3.6 puts the whole domain (about 90 KB of JSON here: every curated answer in
two languages) into every call to the action server. In an outage flood that was
the largest part of each call: encoded in the Rasa process, decoded in the action
server, for a value that changes only when a model is loaded.

The protocol, between the action gateway (``rasa_server.action_gateway``) and the
action server (``actions.server``): every call carries ``domain_digest``, a hash of
the domain. The gateway leaves the domain itself out once the action server has
accepted a call with it; the action server keeps the domains it was sent by digest
and puts the right one back into the call before rasa-sdk sees it. An action server
that does not know the digest (it restarted, or another model was loaded) answers
409, and the gateway sends that call again with the domain. A caller that sends
no digest (stock Rasa, a test) is served as before.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from typing import Any, Dict, Optional, Tuple

DIGEST_KEY = "domain_digest"
UNKNOWN_DIGEST = "unknown domain digest"
KEPT_DOMAINS = 4  # models loaded one after another (PUT /model, a retrain) each bring one


def domain_digest(domain: Dict[str, Any]) -> str:
    """A stable hash of a domain's JSON (key order does not matter)."""
    text = json.dumps(domain, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class DigestMemo:
    """The digest of the domain object last seen: Rasa hands out the same dict until a model is loaded."""

    def __init__(self) -> None:
        self._last: Optional[Tuple[Dict[str, Any], str]] = None

    def digest(self, domain: Dict[str, Any]) -> str:
        if self._last is None or self._last[0] is not domain:
            self._last = (domain, domain_digest(domain))
        return self._last[1]


class KnownDomains:
    """The action server's side: the domains it was sent, by digest (the newest few)."""

    def __init__(self, size: int = KEPT_DOMAINS) -> None:
        self.size = size
        self._domains: "OrderedDict[str, Dict[str, Any]]" = OrderedDict()

    def restore(self, call: Dict[str, Any]) -> Optional[str]:
        """Complete ``call`` in place; a reason to refuse it, or None.

        A call with its domain is remembered under its digest (after checking that the
        digest is the domain's); a call without one gets the remembered domain back. The
        actions share that dict as Rasa's own actions share ``Domain.as_dict()``: read only.
        """
        digest = call.get(DIGEST_KEY)
        if not isinstance(digest, str):
            return None
        domain = call.get("domain")
        if isinstance(domain, dict) and domain:
            if digest not in self._domains:
                if domain_digest(domain) != digest:
                    return "domain digest does not match the domain"
                self._domains[digest] = domain
                while len(self._domains) > self.size:
                    self._domains.popitem(last=False)
            self._domains.move_to_end(digest)
            return None
        known = self._domains.get(digest)
        if known is None:
            return UNKNOWN_DIGEST
        self._domains.move_to_end(digest)
        call["domain"] = known
        return None
