"""Sentence vectors for the judge: a static embedding model shipped inside a package.

The model is WordLlama's `l2_supercat` 256-dimension token table (the `wordllama` package,
MIT licence), loaded from the package's own files: no download, no network, CPU only. A
text's vector is the mean of its tokens' vectors, normalised, so a sentence costs a table
look-up and a sum, no model run (docs/performance.md, Design measurements), and the same
text always gets the same vector. Why this
model and the ones set aside: docs/training.md (Choosing the model).

WordLlama's own loader looks for its tokenizer file in the wrong folder and then tries to
download it, so this module reads the two files itself with `tokenizers` and
`safetensors`, the libraries WordLlama uses.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from functools import lru_cache
from importlib import resources

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer

MODEL_NAME = "wordllama l2_supercat 256"
_WEIGHTS = ("weights", "l2_supercat_256.safetensors")
_TOKENIZER = ("tokenizers", "l2_supercat_tokenizer_config.json")
# Tokens past this many add nothing a trainer would miss and bound the cost of a long reply.
MAX_TOKENS = 256
TEXT_CACHE_SIZE = 4096


class StaticEmbedder:
    """Text -> unit vector (float32, 256 values) by mean-pooling a token table."""

    def __init__(self, table: np.ndarray, tokenizer: Tokenizer) -> None:
        # Kept as shipped (float16: half the memory of float32); the few rows a text uses
        # are summed in float32.
        self._table = table
        # Every mean-pooled vector shares the table's common direction, which makes any two
        # texts look alike (cosine 0.2 for unrelated sentences); taking the table's mean row
        # off each pooled vector removes it.
        self._common = table.astype(np.float32).mean(axis=0)
        self._tokenizer = tokenizer
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self.dimensions = int(table.shape[1])
        self._lock = threading.Lock()
        self._cached = lru_cache(maxsize=TEXT_CACHE_SIZE)(self._embed_one)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One unit row per text (a zero row for a text with no tokens)."""
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        # One `encode` per text rather than `encode_batch`: the batch call hands a reply's
        # few clauses to the tokenizer's thread pool, whose threads cost about four times
        # the CPU of tokenizing them in turn (docs/performance.md, Design measurements).
        encodings = [self._tokenizer.encode(text, add_special_tokens=False) for text in texts]
        rows = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        for i, encoding in enumerate(encodings):
            if encoding.ids:
                rows[i] = self._table[encoding.ids].astype(np.float32).mean(axis=0) - self._common
        norms = np.linalg.norm(rows, axis=1, keepdims=True)
        return rows / np.where(norms == 0, 1.0, norms)

    def embed_cached(self, text: str) -> np.ndarray:
        """The vector of a text that recurs (a point's label, an example sentence)."""
        with self._lock:
            return self._cached(text)

    def _embed_one(self, text: str) -> np.ndarray:
        vector = self.embed([text])[0]
        vector.setflags(write=False)
        return vector


@lru_cache(maxsize=1)
def default_embedder() -> StaticEmbedder:
    """The process's embedder, loaded on first use: a pause and a table held for the
    process's life (docs/performance.md, Design measurements), so the worker loads it at
    start-up rather than on its first reply."""
    package = resources.files("wordllama")
    with resources.as_file(package.joinpath(*_WEIGHTS)) as weights:
        table = load_file(str(weights))["embedding.weight"]
    with resources.as_file(package.joinpath(*_TOKENIZER)) as tokenizer_file:
        tokenizer = Tokenizer.from_file(str(tokenizer_file))
    return StaticEmbedder(table, tokenizer)
