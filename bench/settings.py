"""The benchmark's settings, shared by the other modules: the environment of every stack,
the scenario and the lines the trainees send, the time limits, the case names, and the
counts of a full and a quick run (`Scale`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# Settings for every stack of the run: per-user limits a benchmark must not hit. High
# rather than 0 (which turns a limit off), so the counters still do their production work.
BENCH_ENV = {
    "CHATTRAIN_MESSAGES_PER_WINDOW": "1000000",
    "CHATTRAIN_SESSIONS_PER_WINDOW": "1000000",
    "CHATTRAIN_WS_TICKETS_PER_WINDOW": "1000000",
    "CHATTRAIN_MAX_ACTIVE_SESSIONS_PER_USER": "1000000",
    # A scenario whose sessions do not end during the run (see its scenario.yaml).
    "CHATTRAIN_SCENARIOS_DIR": str(Path(__file__).resolve().parent / "scenarios"),
}
# Case s: a mock LLM paced like a hosted model.
STREAM_ENV = {"CHATTRAIN_MOCK_LLM_FIRST_CHUNK_MS": "400", "CHATTRAIN_MOCK_LLM_CHUNKS_PER_SECOND": "40"}
SCENARIO = "long-practice"
TRAINEE_LINES = (
    "I'm so sorry about this, I understand how frustrating it is. Let me help you get back in.",
    "Thank you. To verify the account, can you confirm the email address on it?",
    "Please check your spam folder too; the reset link expires in an hour.",
    "You will get a refund for the duplicate charge within 5 business days.",
    "Is there anything else I can help with today? Thank you for your patience.",
)
REPLY_TIMEOUT_SECONDS = 30.0  # closed loop: a reply later than this counts as an error
DRAIN_SECONDS = 60.0  # open loop: how long to wait for the backlog after the last send
ALL_CASES = ("floor", "a", "b", "c", "d", "e", "s")


@dataclass(frozen=True)
class Scale:
    floor_pings: int = 300
    a_messages: int = 300
    b_trainees: int = 50
    b_per_second: float = 2.0
    b_seconds: float = 20.0
    c_trainees: int = 200
    c_seconds: float = 15.0
    d_idle_seconds: float = 60.0
    d_trials: int = 3
    e_sockets: int = 1000
    e_idle_cpu_seconds: float = 10.0
    s_trainees: int = 4
    s_messages_each: int = 5


QUICK = Scale(
    floor_pings=100, a_messages=50, b_seconds=5.0, c_seconds=5.0, d_idle_seconds=5.0,
    e_sockets=200, e_idle_cpu_seconds=3.0, s_trainees=2, s_messages_each=2,
)
