"""Mnemonics for tests: real BIP-39 phrases from a fixed seed, so every run tests the same phrases.

Detection of partial seeds is statistical (about 1 random phrase in 100 reads like
prose or a sentence, see results/secrets.md); bench/secrets_bench.py measures the
rate on fresh phrases, the tests need the same answer every run.
"""

import itertools
import random

from mnemonic import Mnemonic

_draws = itertools.count()


def mnemonic(language: str = "english", strength: int = 128) -> str:
    """The next phrase of a fixed sequence (a real, checksum-valid mnemonic)."""
    entropy = random.Random(f"{language}-{strength}-{next(_draws)}").randbytes(strength // 8)
    return Mnemonic(language).to_mnemonic(entropy)
