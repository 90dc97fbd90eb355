"""A hosted model's judgement of the trainee message a reply job answers
(CHATTRAIN_LLM_JUDGE=on, openai provider): asked when the job starts, so it runs while the
customer's reply streams, and waited for at most until CHATTRAIN_LLM_JUDGE_TIMEOUT_SECONDS
after the start. Without a usable answer by then the offline judge's verdict stands
(shared/llm/judging.py says what counts as usable).

The call runs on a thread of its own, a greenlet under the consumer's gevent, and takes no
model slot: a reply never waits for a judgement to start streaming. The thread records
what the call cost in the trainee's usage when it ends, through the worker's writer
(`WorkerRuntime.write`), so a late answer or a reply that failed meanwhile is still counted.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from shared.llm import LLMError
from shared.llm import accounting as llm_accounting
from shared.llm.judging import JudgeInvalid, ModelVerdict, ask_model_judge
from shared.training.judge import line_points
from shared.training.pitfalls import pitfalls_for_model

log = logging.getLogger("chattrain.worker")


class PendingVerdict:
    """A judging call under way; `result()` waits for it within the budget."""

    def __init__(
        self, runtime: Any, scenario: Any, turn_index: int, text: str, *, message_id: int, user_id: str
    ) -> None:
        settings = runtime.settings
        self._runtime, self._user_id = runtime, user_id
        self._deadline = time.monotonic() + settings.llm_judge_timeout_seconds
        self._message_id = message_id
        self._verdict: ModelVerdict | None = None
        self._thread = threading.Thread(
            target=self._ask,
            args=(runtime.provider, scenario, turn_index, text, settings.llm_judge_max_tokens),
            name=f"judge-{message_id}",
            daemon=True,
        )
        self._thread.start()

    def _ask(self, provider: Any, scenario: Any, turn_index: int, text: str, max_tokens: int) -> None:
        points = [point.label for point in line_points(scenario, turn_index)]
        pitfalls = [pitfall.label for pitfall in pitfalls_for_model(scenario, turn_index)]
        customer_line = scenario.bot_messages[turn_index].content
        try:
            verdict, usage = ask_model_judge(provider, customer_line, points, pitfalls, text, max_tokens=max_tokens)
        except LLMError as error:
            log.warning("LLM judge failed message_id=%s code=%s", self._message_id, error.code)
            return
        except JudgeInvalid as error:
            log.warning("LLM judge answer not usable message_id=%s reason=%s", self._message_id, error)
            usage = error.usage
        else:
            self._verdict = verdict
        if usage is not None:
            self._runtime.write(
                lambda conn: llm_accounting.record_grading(
                    conn, user_id=self._user_id, provider=provider.name, usage=usage
                )
            )

    def result(self) -> ModelVerdict | None:
        """The verdict, or None when there is none by the deadline."""
        self._thread.join(max(0.0, self._deadline - time.monotonic()))
        if self._thread.is_alive():
            log.warning("LLM judge past its budget message_id=%s", self._message_id)
            return None
        return self._verdict


def start_model_judging(
    runtime: Any, scenario: Any, trainee_message: dict[str, Any] | None, turn_index: int, *, user_id: str
) -> PendingVerdict | None:
    """Ask the model to judge the trainee message, when the settings say so and there is a
    scripted line it answers; None otherwise."""
    settings = runtime.settings
    if settings.llm_judge != "on" or settings.llm_provider != "openai" or not scenario.per_reply_feedback:
        return None
    if trainee_message is None or trainee_message["role"] != "user":
        return None
    if not 0 <= turn_index < len(scenario.bot_messages) or not line_points(scenario, turn_index):
        return None
    return PendingVerdict(
        runtime, scenario, turn_index, trainee_message["content"], message_id=trainee_message["id"], user_id=user_id
    )
