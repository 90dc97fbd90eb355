"""Time mask_text on typical inputs, and the trainee message path's search across the
break with the previous message, and print median and p90 in microseconds.

Run: python bench/bench_masking.py [iterations]
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from shared.masking import PlaceholderVault, mask_text
from shared.masking.policy import MaskingPolicy

# Customer-service prose with the numbers and cue words that are not personal data:
# order numbers, prices, times, versions, "I'm sorry", "this is urgent".
NO_PII_PARAGRAPH = (
    "Hello, I'm sorry to bother you again but this is urgent. My order #A-10023 was "
    "supposed to arrive on Tuesday and it still hasn't shown up. I paid $149.99 plus "
    "$12.50 shipping, and the tracking page has said 'in transit' since 09:30 on the 3rd. "
    "I called twice, waited 45 minutes each time, and the app (version 5.2.1) keeps "
    "crashing when I open the order page. I'm frustrated because this is the third time "
    "this year that a delivery has gone wrong. "
)
PII_PARAGRAPH = (
    "Hi, my name is Jane Roe and my email is jane.roe@example.com. You can call me on "
    "(555) 123-4567 or +44 20 7946 0958. The card was 4111 1111 1111 1111 and the refund "
    "should go to GB82 WEST 1234 5698 7654 32. Policy no. AB-123456, DOB: 04/12/1985, "
    "and I live at 221B Baker Street. My IP was 203.0.113.5 when it failed. "
)
TYPICAL_MESSAGE = (
    "Hi, I ordered a blender last week (order #48213) and it arrived broken. I'd like a "
    "refund or a replacement, whichever is faster. Can you help me with that please?"
)
# The same message as a phone keyboard types it: curly apostrophes (non-ASCII text that
# folding leaves alone).
TYPICAL_PHONE_MESSAGE = TYPICAL_MESSAGE.replace("'", "\u2019")
# Values typed the hard way: no-break spaces, en dashes, full-width and Arabic-Indic
# digits, a zero-width space, a full-width "@".
TYPED_FORMS_MESSAGE = (
    "My card is 4111\u00a01111\u00a01111\u00a01111, my SSN 536\u201322\u20131234, call "
    "\uff0b\uff14\uff14 \uff12\uff10 \uff17\uff19\uff14\uff16 \uff10\uff19\uff15\uff18 or "
    "+\u0661 \u0664\u0661\u0665 \u0665\u0665\u0665 \u0660\u0661\u0660\u0660, mail jane\u200b.roe\uff20example.com."
)


def repeat_to(paragraph: str, length: int) -> str:
    """Repeat `paragraph` and cut at `length` characters."""
    return (paragraph * (length // len(paragraph) + 1))[:length]


def time_case(text: str, iterations: int) -> tuple[float, float, int]:
    """(median µs, p90 µs, findings) for masking `text` with one session's vault."""
    vault = PlaceholderVault.from_json(None, b"bench-secret")
    findings = len(mask_text(text, vault).findings)  # warm caches and the vault
    samples = []
    for _ in range(iterations):
        start = time.perf_counter_ns()
        mask_text(text, vault)
        samples.append(time.perf_counter_ns() - start)
    samples.sort()
    median = statistics.median(samples) / 1000
    p90 = samples[int(len(samples) * 0.9)] / 1000
    return median, p90, findings


def time_split_check(previous: str, text: str, iterations: int) -> tuple[float, float, int]:
    """(median µs, p90 µs, findings) for masking `text` after `previous` the way the
    trainee message path does, with the search across the break between the two."""
    policy = MaskingPolicy(enabled=True, secret=b"bench-secret")
    found = policy.find(text)
    samples = []
    for _ in range(iterations):
        start = time.perf_counter_ns()
        masked = policy.apply_after(previous, text, {}, found=found)
        samples.append(time.perf_counter_ns() - start)
    samples.sort()
    return statistics.median(samples) / 1000, samples[int(len(samples) * 0.9)] / 1000, len(masked.findings)


def main() -> None:
    iterations = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    # One paragraph with ten values, padded with ordinary prose to 2,000 characters.
    pii_text = PII_PARAGRAPH + repeat_to(NO_PII_PARAGRAPH, 2000 - len(PII_PARAGRAPH))
    cases = [
        ("2,000 chars, no PII", repeat_to(NO_PII_PARAGRAPH, 2000)),
        ("2,000 chars, 10 findings", pii_text),
        ("200-char typical message", TYPICAL_MESSAGE[:200]),
        ("typical, curly apostrophes", TYPICAL_PHONE_MESSAGE[:200]),
        ("typed forms, 5 findings", TYPED_FORMS_MESSAGE),
    ]
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"{iterations} runs per case; load average {load} on {os.cpu_count()} cores")
    print(f"{'case':<28} {'chars':>5} {'findings':>8} {'median µs':>10} {'p90 µs':>8}")
    for label, text in cases:
        median, p90, findings = time_case(text, iterations)
        print(f"{label:<28} {len(text):>5} {findings:>8} {median:>10.1f} {p90:>8.1f}")
    # The trainee message path also searches across the break with the previous message
    # when a digit or an "@" is near it (the find() half runs before, as in the web).
    split_cases = [
        ("after a message, no break", "Thanks, that is all I needed.", TYPICAL_MESSAGE[:200]),
        ("after a message, digits", "It was order 48213", "12 days ago, and I paid $45"),
        ("card split over two", "my card is 4111 1111", "1111 1111 thanks"),
        ("card in pieces over two", "it starts with 4111 1111", "and it ends with 1111 1111"),
        ("numbers in both, no card", "order 48213 from 2024", "arrived 12 days ago, $1500"),
    ]
    for label, previous, text in split_cases:
        median, p90, findings = time_split_check(previous, text, iterations)
        print(f"{label:<28} {len(text):>5} {findings:>8} {median:>10.1f} {p90:>8.1f}")


if __name__ == "__main__":
    main()
