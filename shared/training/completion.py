"""When a training session is over.

A session ends in one of three ways: the script is complete, the time is up, or the
trainee ends it. The first two are decided here; "trainee_ended" comes from the
trainee's end_session frame and is handled by the web layer.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.lib.clock import parse_iso, utc_now

SCRIPT_COMPLETE = "script_complete"
TIME_UP = "time_up"
TRAINEE_ENDED = "trainee_ended"


def script_finished(scenario: Any, assistant_turns: int, trainee_turns: int) -> bool:
    """True once the trainee has answered the last scripted customer line.

    `assistant_turns` counts customer lines sent (opening line included); trainee reply k
    (1-based) answers customer line k. So the last of n scripted lines is answered when
    both counts have reached n. Counting the customer side too matters: a trainee who
    sends messages faster than the customer replies has not yet seen the last line.
    """
    lines = len(scenario.bot_messages)
    return assistant_turns >= lines and trainee_turns >= lines


def completion_reason(scenario: Any, *, exchanges: int, elapsed_seconds: float, script_finished: bool) -> str | None:
    """Why the session should end now, or None to keep going.

    "script_complete" when the script is finished and at least
    `completion.min_exchanges` exchanges took place; otherwise "time_up" once
    `duration_minutes` have elapsed. A finished script wins over the clock, so a
    trainee who completes it in the last second gets the credit for completing it.
    """
    if script_finished and exchanges >= scenario.completion.min_exchanges:
        return SCRIPT_COMPLETE
    if elapsed_seconds >= scenario.duration_minutes * 60:
        return TIME_UP
    return None


def time_is_up(scenario: Any, started_at: str, now: datetime | None = None) -> bool:
    """True once the scenario's duration_minutes have passed since `started_at`."""
    elapsed = ((now or utc_now()) - parse_iso(started_at)).total_seconds()
    return completion_reason(scenario, exchanges=0, elapsed_seconds=elapsed, script_finished=False) == TIME_UP
