"""Training texts' sentence embeddings, kept on disk between trainings.

Encoding the ~4,800 English training texts takes a minute and a half of a training on this
2-core machine, and a retraining after an NLU review (`desk export-nlu`, then `rasa train`)
changes a handful of them. So ``EnglishSentenceFeaturizer.process_training_data`` looks each
text up here first and encodes only the new ones.

An entry is keyed by the SHA-256 of the encoder's fingerprint (weights, vocabulary and the
code that runs them) and the text: the text itself is never stored, and new weights or new
encoder code never read an old embedding. Only training data passes through here; the
messages users send are embedded in memory only (``EnglishSentenceFeaturizer.process``).

The store is a cache: when it cannot be opened, read or written, training goes on without it.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Sequence

import numpy as np

logger = logging.getLogger(__name__)

# Each lookup is one statement with this many parameters (SQLite's default limit is 999 before 3.32).
CHUNK = 500


def entry_key(fingerprint: str, text: str) -> bytes:
    """The cache key of one text's embedding under one encoder."""
    return hashlib.sha256(fingerprint.encode("utf-8") + b"\0" + text.encode("utf-8")).digest()


class EmbeddingCache:
    """A SQLite file of (key, float32 vector) rows for one embedding width."""

    def __init__(self, path: Path, width: int) -> None:
        self.path = Path(path)
        self.width = width

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(str(self.path), timeout=30)
        connection.execute("CREATE TABLE IF NOT EXISTS embedding (key BLOB PRIMARY KEY, vector BLOB NOT NULL)")
        return connection

    def get_many(self, keys: Sequence[bytes]) -> Dict[bytes, np.ndarray]:
        """The stored vectors among ``keys`` (rows of the wrong size are ignored)."""
        found: Dict[bytes, np.ndarray] = {}
        with closing(self._connect()) as connection:
            for start in range(0, len(keys), CHUNK):
                chunk = list(keys[start:start + CHUNK])
                marks = ",".join("?" * len(chunk))
                for key, blob in connection.execute(f"SELECT key, vector FROM embedding WHERE key IN ({marks})", chunk):
                    vector = np.frombuffer(blob, dtype=np.float32)
                    if vector.shape == (self.width,):
                        found[bytes(key)] = vector.copy()
        return found

    def put_many(self, items: Iterable[tuple]) -> None:
        """Store (key, vector) pairs, replacing any row with the same key."""
        rows = [(key, np.asarray(vector, dtype=np.float32).tobytes()) for key, vector in items]
        with closing(self._connect()) as connection, connection:
            connection.executemany("INSERT OR REPLACE INTO embedding (key, vector) VALUES (?, ?)", rows)


def cached_embeddings(texts: List[str], encode: Callable[[List[str]], np.ndarray], fingerprint: str, width: int,
                      cache_path: Optional[Path]) -> List[np.ndarray]:
    """One embedding per text: from the cache where it has one, ``encode`` (one call) for the rest.

    Without a cache path, or when the cache fails, every text is encoded: a broken cache costs
    time, never a training.
    """
    if cache_path is None:
        return list(encode(texts)) if texts else []
    keys = [entry_key(fingerprint, text) for text in texts]
    cache = EmbeddingCache(cache_path, width)
    try:
        found = cache.get_many(keys)
    except (sqlite3.Error, OSError) as error:
        logger.warning(f"Sentence embedding cache '{cache_path}' unreadable ({error}); encoding every text.")
        return list(encode(texts)) if texts else []
    missing = [i for i, key in enumerate(keys) if key not in found]
    if missing:
        encoded = encode([texts[i] for i in missing])
        fresh = {keys[i]: vector for i, vector in zip(missing, encoded)}
        try:
            cache.put_many(fresh.items())
        except (sqlite3.Error, OSError) as error:
            logger.warning(f"Sentence embedding cache '{cache_path}' not written ({error}).")
        found.update(fresh)
    logger.info(f"Sentence embeddings: {len(texts) - len(missing)} of {len(texts)} training texts from the cache.")
    return [found[key] for key in keys]
