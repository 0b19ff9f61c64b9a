"""The project's NLU code in Rasa's cache key of every component it trains.

Rasa keys a trained component in its cache (``.rasa/cache``) by the class's own source, its
config and its inputs (``rasa.engine.training.fingerprinting``), not by the code the class calls
from elsewhere: a mixin, a module-level helper (``nlu.classifiers.normalized_blocks``,
``nlu.row_split``), the text rules in ``safety``. After a change there, ``make train`` does
retrain (``scripts/train.sh`` hashes ``nlu/`` and ``safety/``), yet Rasa would restore the
component the old code trained, and the model would then run new code on old state.

Each trainable component of ours adds :func:`code_fingerprint` to its key through Rasa's own
hook, ``fingerprint_addon``: a code change trains it again, a data-only change still reuses
what it can.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Any, Dict, Optional

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# The packages a trained component's code comes from (the same ones scripts/train.sh hashes).
PACKAGES = ("nlu", "safety")


@functools.lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """SHA-256 of every Python file of ``PACKAGES``, with its path (read once per process)."""
    digest = hashlib.sha256()
    for package in PACKAGES:
        for path in sorted((PROJECT_ROOT / package).rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            digest.update(path.relative_to(PROJECT_ROOT).as_posix().encode("utf-8") + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def with_code(addon: Optional[str]) -> str:
    """A component's own fingerprint addon (None: it has none) joined with the code's."""
    return code_fingerprint() if addon is None else f"{addon}:{code_fingerprint()}"


class CodeFingerprinted:
    """Mixin for a trainable component: its cache key also covers the project's NLU code."""

    @classmethod
    def fingerprint_addon(cls, config: Dict[str, Any]) -> Optional[str]:
        return with_code(super().fingerprint_addon(config))  # type: ignore[misc]
