"""Ask the candidate chains for one transaction at once, under one deadline, with a small TTL cache.

Outcome, for the answer (actions/tx_lookup.py):
- ``found``: the facts from the chain the user named, else from the first chain that knows it;
  ``wrong_network`` when the user named a chain that does not know it and another does;
- ``not_found``: every candidate chain answered and none knows it;
- ``unavailable``: nothing found and at least one candidate could not be asked (down, slow,
  breaker open, or no chain configured): the user gets the usual FAQ answer.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from chain.btc import lookup_btc
from chain.evm import lookup_evm
from chain.facts import TxFacts
from chain.http import Breaker, Endpoint, EndpointDown
from chain.refs import TxRef
from chain.tron import lookup_tron
from settings import ChainSettings

logger = logging.getLogger(__name__)

# Leave room inside the user's 4 s for Rasa, the action hop and the answer.
DEADLINE_SECONDS = 3.2


@dataclass
class Outcome:
    kind: str                               # found / not_found / unavailable
    facts: Optional[TxFacts] = None
    named_chain: Optional[str] = None       # the chain the user or the link named
    wrong_network: bool = False
    tried: List[str] = field(default_factory=list)


class ChainLookup:
    def __init__(self, settings: ChainSettings) -> None:
        self.settings = settings
        self.endpoints: Dict[str, Endpoint] = {}
        self.labels: Dict[str, str] = {}
        make = lambda url: Endpoint(url, settings.timeout_seconds,  # noqa: E731
                                    Breaker(settings.breaker_failures, settings.breaker_reset_seconds))
        for chain in settings.evm:
            self.labels[chain.name] = chain.label
            if chain.rpc_url:
                self.endpoints[chain.name] = make(chain.rpc_url)
        self.labels.update(tron="TRON", bitcoin="Bitcoin")
        if settings.tron_api_url:
            self.endpoints["tron"] = make(settings.tron_api_url)
        if settings.btc_esplora_url:
            self.endpoints["bitcoin"] = make(settings.btc_esplora_url)
        self._cache: Dict[Tuple[str, str], Tuple[float, TxFacts]] = {}

    def candidates(self, ref: TxRef, named: Optional[str]) -> List[str]:
        """The chains to ask: the named one first, then every other chain the hash's shape fits."""
        evm = [c.name for c in self.settings.evm]
        shaped = evm if ref.evm_shaped else ["tron", "bitcoin", *evm]
        ordered = ([named] if named else []) + [c for c in shaped if c != named]
        return [c for c in ordered if c in self.endpoints]  # a chain without a URL is not asked

    async def _one(self, chain: str, tx_hash: str) -> TxFacts:
        key = (chain, tx_hash.lower().removeprefix("0x"))
        cached = self._cache.get(key)
        if cached and time.monotonic() - cached[0] < self.settings.cache_seconds:
            return cached[1]
        endpoint = self.endpoints.get(chain)
        if endpoint is None:
            raise EndpointDown(f"{chain}: not configured")
        if chain == "tron":
            facts = await lookup_tron(endpoint, tx_hash)
        elif chain == "bitcoin":
            facts = await lookup_btc(endpoint, tx_hash)
        else:
            setting = self.settings.evm_chain(chain)
            facts = await lookup_evm(endpoint, chain, setting.label, setting.native_symbol, tx_hash)
        self._cache[key] = (time.monotonic(), facts)
        if len(self._cache) > 2048:
            oldest = sorted(self._cache.items(), key=lambda item: item[1][0])[:512]
            for stale, _ in oldest:
                self._cache.pop(stale, None)
        return facts

    async def lookup(self, ref: TxRef, named: Optional[str] = None, deadline: float = DEADLINE_SECONDS) -> Outcome:
        named = ref.chain or named
        chains = self.candidates(ref, named)
        if not chains:
            return Outcome("unavailable", named_chain=named)
        tasks = {chain: asyncio.ensure_future(self._one(chain, ref.tx_hash)) for chain in chains}
        done, pending = await asyncio.wait(tasks.values(), timeout=deadline)
        for task in pending:
            task.cancel()
        results: Dict[str, Optional[TxFacts]] = {}
        for chain, task in tasks.items():
            if task in done and not task.cancelled() and task.exception() is None:
                results[chain] = task.result()
            else:
                error = task.exception() if task in done and not task.cancelled() else "no answer before the deadline"
                logger.warning("lookup on %s failed: %s", chain, error)
                results[chain] = None
        found = [results[c] for c in chains if results.get(c) is not None and results[c].found]
        outcome = Outcome("unavailable", named_chain=named, tried=chains)
        if found:
            outcome.kind, outcome.facts = "found", found[0]
            outcome.wrong_network = bool(named) and found[0].chain != named
        elif chains and all(results.get(c) is not None for c in chains) and (not named or named in chains):
            outcome.kind = "not_found"
            outcome.facts = results[chains[0]]
        return outcome

    async def close(self) -> None:
        for endpoint in self.endpoints.values():
            await endpoint.close()


_shared: Optional[ChainLookup] = None


def get_lookup() -> ChainLookup:
    """The action server's lookup (its endpoints' breakers and the cache live as long as the process)."""
    global _shared
    if _shared is None:
        from settings import get_settings

        _shared = ChainLookup(get_settings().chains)
    return _shared
