"""Turning an LLM's chunk stream into batched, masked `assistant_delta` events.

Each delta carries only new text. Every flush masks the whole text so far (PII split
across chunks is still found) and holds back the last unfinished word, so a delta rarely
has to be taken back. When the masked text no longer extends what clients were sent
(a value became recognisable as PII only later, or a re-run after a crash produced
different text), the next delta carries `restart: true` and the full text so far.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable


@dataclass
class DeltaBatcher:
    """Decides when to flush and what each delta says. Pure logic; the caller writes."""

    batch_seconds: float
    emitted: str = ""  # what clients have been sent for this reply (possibly by an earlier run)
    next_seq: int = 0
    generated: str = ""
    _last_flush: float = field(default_factory=time.monotonic)

    def add(self, chunk: str) -> bool:
        """Record a chunk; True when a flush is due."""
        self.generated += chunk
        # Time alone decides: a reply generated faster than one batch interval goes out
        # whole as its assistant_message, with no deltas and no extra writes.
        return time.monotonic() - self._last_flush >= self.batch_seconds

    def take_delta(self, mask: Callable[[str], str], *, final: bool = False) -> dict | None:
        """The next delta payload (content, seq, restart), or None if there is nothing new."""
        self._last_flush = time.monotonic()
        text = self.generated if final else _without_unfinished_word(self.generated)
        masked = mask(text)
        if self.emitted.startswith(masked):
            return None  # nothing new yet (or still catching up with an earlier run)
        if masked.startswith(self.emitted):
            delta = {"seq": self.next_seq, "content": masked[len(self.emitted):]}
        else:
            delta = {"seq": self.next_seq, "content": masked, "restart": True}
        self.emitted = masked
        self.next_seq += 1
        return delta


def _without_unfinished_word(text: str) -> str:
    cut = max(text.rfind(" "), text.rfind("\n"))
    return text[: cut + 1] if cut >= 0 else ""
