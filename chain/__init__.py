"""Transaction lookup: find a transaction reference in a message and ask the chain for its state.

Imported by the action server only (``actions/tx_lookup.py``); pure ``aiohttp``, no web3.

- ``refs``: recognise a reference (explorer link, cued hash, bare hash) and whether it is
  a transaction reference *by construction* — only those may be sent anywhere.
- ``facts``: what a lookup found (state, block, from/to, amounts, reason), one shape for all chains.
- ``http``: one endpoint: timeout, circuit breaker.
- ``evm``, ``tron``, ``btc``: the per-family lookups (JSON-RPC, TronGrid HTTP API, Esplora).
- ``lookup``: tries the candidate chains at once under one deadline, with a small TTL cache.
"""
