"""The benchmark's settings, shared by the other modules: the environment of every stack,
the two paced models (the mock's settings and the fake server's), the scenario and the
lines the trainees send, the time limits, the case names, and the counts of a full and a
quick run (`Scale`)."""

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
# A model paced like a hosted one: 800 ms to the first chunk, then 25 chunks of about 12
# characters a second (a reply of ~140 characters takes about 1.3 s).
FIRST_CHUNK_MS = 800
CHUNKS_PER_SECOND = 25
CHUNK_CHARS = 12
# The `openai` rows: the stack talks to bench/fake_llm.py on loopback. The request timeout
# is raised above the stall of case r3 (30 s): at the default 30 s a stalled reply would
# time out, be retried by the worker, stall again, and never arrive.
OPENAI_ENV = {
    "CHATTRAIN_LLM_PROVIDER": "openai",
    "CHATTRAIN_LLM_API_KEY": "bench",
    "CHATTRAIN_LLM_REQUEST_TIMEOUT_SECONDS": "60",
}
# Case r3's stalls, played by the fake server alone (the product's mock never stalls): it
# stalls requests whose last user message contains STALL_MARKER, which the trainees on
# sessions whose id is a multiple of STALL_EVERY_NTH add to every message.
STALL_EVERY_NTH = 10
STALL_MARKER = "zzstallzz"
SCENARIO = "long-practice"
TRAINEE_LINES = (
    "I'm so sorry about this, I understand how frustrating it is. Let me help you get back in.",
    "Thank you. To verify the account, can you confirm the email address on it?",
    "Please check your spam folder too; the reset link expires in an hour.",
    "You will get a refund for the duplicate charge within 5 business days.",
    "Is there anything else I can help with today? Thank you for your patience.",
)
REPLY_TIMEOUT_SECONDS = 30.0  # closed loop: a reply later than this counts as an error
MODELS = ("mock", "openai")
GUARD_CASES = ("floor", "a", "c", "idle", "e")
LOAD_CASES = ("r1", "r2", "r3", "r4", "m")
ALL_CASES = (*LOAD_CASES, *GUARD_CASES)


@dataclass(frozen=True)
class Scale:
    # guards: the zero-delay mock
    floor_pings: int = 300
    a_messages: int = 300
    c_trainees: int = 200
    c_seconds: float = 15.0
    idle_seconds: float = 30.0
    e_sockets: int = 1000
    settle_seconds: float = 2.0  # cases e and m: for memory to settle before reading RSS
    # realistic load: Poisson arrivals, each trainee one message per `mean_interval` on average
    mean_interval: float = 10.0
    load_seconds: float = 60.0
    drain_seconds: float = 60.0  # after the last send, how long to wait for the replies
    r1_trainees: int = 200
    r2_trainees: int = 1000
    r3_trainees: int = 200
    r4_trainees: int = 2000  # on one box, beside the in-process reference
    stall_ms: int = 30000
    m_trainees: int = 500
    m_first_chunk_ms: int = 20000


# Seconds per case: a smoke run of every code path, its numbers not worth judging.
QUICK = Scale(
    floor_pings=100,
    a_messages=50,
    c_trainees=100,
    c_seconds=2.0,
    idle_seconds=1.5,
    e_sockets=100,
    settle_seconds=0.5,
    mean_interval=0.8,
    load_seconds=2.0,
    drain_seconds=20.0,
    r1_trainees=20,
    r2_trainees=50,
    r3_trainees=20,
    r4_trainees=60,
    stall_ms=1000,
    m_trainees=30,
    m_first_chunk_ms=1000,
)
