"""Turning an LLM's chunk stream into batched, masked `assistant_delta` events.

Each delta carries only new text. Every flush masks the whole text so far (PII split
across chunks is still found) and holds back the tail that could be the start of a value
not yet recognisable: the unfinished word, and the run of words before it that carry
digits, `@`, `+` or a capital letter (a card's first groups, a phone number's country
code, the house number and name of a street, a name after "my name is"). Masking only
recognises a value once it is whole, so without this the first groups of a card number
would go out before the value was masked. When the masked text no longer extends what
clients were sent (a value became recognisable only later, or a re-run after a crash
produced different text), the next delta carries `restart: true` and the full text so far.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple


class Delta(NamedTuple):
    """What one `assistant_delta` says (shared/conversation/frames.py builds the frame)."""

    seq: int
    content: str
    restart: bool = False


@dataclass
class DeltaBatcher:
    """Decides when to flush and what each delta says. Pure logic; the caller writes."""

    batch_seconds: float
    emitted: str = ""  # what clients have been sent for this reply (possibly by an earlier run)
    next_seq: int = 0
    generated: str = ""
    _last_flush: float = field(default_factory=time.monotonic)

    def add(self, chunk: str) -> bool:
        """Record a chunk; True when a flush is due. A NUL is dropped, as from the
        trainee's messages: it shows nothing and PostgreSQL's text columns cannot hold it."""
        self.generated += chunk.replace("\x00", "")
        # Time alone decides: a reply generated faster than one batch interval goes out
        # whole as its assistant_message, with no deltas and no extra writes.
        return time.monotonic() - self._last_flush >= self.batch_seconds

    def checkpoint(self) -> tuple[str, int, float]:
        """What take_delta changes, to restore when the transaction that took a delta is
        rolled back and run again (shared/db/grouped_writes.py)."""
        return self.emitted, self.next_seq, self._last_flush

    def restore(self, checkpoint: tuple[str, int, float]) -> None:
        self.emitted, self.next_seq, self._last_flush = checkpoint

    def take_delta(self, mask: Callable[[str], str], *, final: bool = False) -> Delta | None:
        """The next delta, or None if there is nothing new
        (then the next chunk may flush at once: the interval counts from a delta sent)."""
        text = self.generated if final else safe_prefix(self.generated)
        masked = mask(text)
        if self.emitted.startswith(masked):
            return None  # nothing new yet (or still catching up with an earlier run)
        self._last_flush = time.monotonic()
        if masked.startswith(self.emitted):
            delta = Delta(self.next_seq, masked[len(self.emitted) :])
        else:
            delta = Delta(self.next_seq, masked, restart=True)
        self.emitted = masked
        self.next_seq += 1
        return delta


_CONNECTORS = {"-", "(", ")", "/", ".", ",", ":", "ext", "ext.", "x", "#"}


def _could_start_a_value(word: str, *, first: bool = False) -> bool:
    stripped = word.strip(".,;:!?\"'")
    return (
        any(ch.isdigit() for ch in word)
        or "@" in word
        or word.startswith("+")
        or (stripped[:1].isupper() and not first)
        or stripped.lower() in _CONNECTORS
    )


def safe_prefix(text: str) -> str:
    """The part of `text` that can be sent before the rest arrives (see the module doc).

    The reply's first word is not held back for being capitalised (every reply starts
    with a capital): a name is only recognised after a cue, and nothing comes before it."""
    words = text.split(" ")
    keep = len(words) - 1  # the last word may be unfinished
    while keep > 0 and _could_start_a_value(words[keep - 1], first=keep == 1):
        keep -= 1
    return " ".join(words[:keep]) + " " if keep else ""
