"""Grouped write transactions from several processes at once (shared/db/grouped_writes.py):
two groups that write to the same sessions in opposite orders. The sessions each write
names are locked first, in id order, so the groups take turns instead of deadlocking; and
a group that deadlocks anyway (on a lock it did not name) is rolled back and run again
whole, so every write commits, once."""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import select, text

from shared.db import events as event_rows
from shared.db import sessions as session_rows
from shared.db.grouped_writes import commit_group
from shared.db.scenario_rows import upsert_scenario
from shared.db.schema import events

# Only a bound on waiting for the other connection, so that a broken test fails rather
# than hangs; nothing is asserted about time.
RENDEZVOUS_LIMIT_SECONDS = 60


def _sessions(engine, count: int) -> list[int]:  # noqa: ANN001
    with engine.begin() as conn:
        scenario_id = upsert_scenario(conn, slug="s", title="S", config={}, file_path="/nowhere")
        return [session_rows.insert_session(conn, scenario_id=scenario_id, user_id="u")["id"] for _ in range(count)]


def _waits_for_a_lock(engine, pid: int) -> bool:  # noqa: ANN001
    with engine.connect() as conn:
        return (
            conn.execute(text("SELECT wait_event_type FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}).scalar()
            == "Lock"
        )


def _crossing_groups(engine, *, name_sessions: bool) -> tuple[list, Counter]:  # noqa: ANN001
    """Two connections each commit a group of two writes, an event to session A then B
    and to B then A. Each group's second write starts only once the other group has made
    its first or is waiting for a lock, so that without an order both hold one session
    and want the other's. Returns both groups' outcomes and how often each write ran."""
    sessions = _sessions(engine, 2)
    orders = (sessions, sessions[::-1])
    first_done = (threading.Event(), threading.Event())
    pids: dict[int, int] = {}
    ready = threading.Barrier(2)
    runs: Counter = Counter()

    def await_other(index: int) -> None:
        other = 1 - index
        deadline = time.monotonic() + RENDEZVOUS_LIMIT_SECONDS
        while not first_done[other].is_set() and not _waits_for_a_lock(engine, pids[other]):
            assert time.monotonic() < deadline, "the other group neither wrote nor waited"
            time.sleep(0.005)

    def group(index: int) -> list:
        order = orders[index]

        def first(conn):  # noqa: ANN001, ANN202
            runs[(index, "first")] += 1
            event_rows.insert_event(conn, session_id=order[0], frame=("typing", {"group": index}))
            first_done[index].set()
            await_other(index)

        def second(conn):  # noqa: ANN001, ANN202
            runs[(index, "second")] += 1
            event_rows.insert_event(conn, session_id=order[1], frame=("typing", {"group": index}))

        with engine.connect() as conn:
            pids[index] = conn.connection.driver_connection.info.backend_pid
            ready.wait()
            return commit_group(conn, [first, second], order if name_sessions else ())

    with ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(group, (0, 1)))
    return outcomes, runs


def _seqs_by_session(engine) -> dict[int, list[int]]:  # noqa: ANN001
    with engine.connect() as conn:
        rows = conn.execute(select(events.c.session_id, events.c.seq).order_by(events.c.session_id, events.c.seq)).all()
    found: dict[int, list[int]] = {}
    for session_id, seq in rows:
        found.setdefault(session_id, []).append(seq)
    return found


def test_groups_naming_their_sessions_lock_them_in_order_and_never_deadlock(engine):
    outcomes, runs = _crossing_groups(engine, name_sessions=True)

    assert [error for group in outcomes for _, error in group] == [None] * 4
    assert set(runs.values()) == {1}  # no group was rolled back and run again
    assert list(_seqs_by_session(engine).values()) == [[1, 2], [1, 2]]


def test_a_group_rolled_back_by_a_deadlock_runs_again_whole_and_commits_every_write_once(engine):
    outcomes, runs = _crossing_groups(engine, name_sessions=False)

    assert [error for group in outcomes for _, error in group] == [None] * 4
    assert max(runs.values()) == 2  # the deadlock's victim ran again
    assert list(_seqs_by_session(engine).values()) == [[1, 2], [1, 2]]


def test_sessions_locked_up_front_count_as_locked_for_that_transaction_only(engine):
    first, second = _sessions(engine, 2)
    with engine.connect() as conn:
        with conn.begin():
            session_rows.lock_sessions(conn, [second, first])
            assert session_rows.holds_session_lock(conn, first) and session_rows.holds_session_lock(conn, second)
        with conn.begin():  # the next transaction on the same connection locks again
            assert not session_rows.holds_session_lock(conn, first)
            event_rows.insert_event(conn, session_id=first, frame=("typing", {}))
    assert _seqs_by_session(engine) == {first: [1]}
