"""No event is skipped on PostgreSQL when transactions commit out of id order: not by the
tailer's read (select_events_after holds at a gap until the transaction holding it ends),
not by a replay after a seq (a session's seq is taken under its row lock, in commit
order), not by the tailer's starting point."""

from __future__ import annotations

import random
import threading
import time

from shared.db import events as event_rows
from shared.db import sessions as session_rows
from shared.db.scenario_rows import upsert_scenario


def _sessions(engine, count: int) -> list[int]:
    with engine.begin() as conn:
        scenario_id = upsert_scenario(conn, slug="s", title="S", config={}, file_path="/nowhere")
        return [session_rows.insert_session(conn, scenario_id=scenario_id, user_id="u")["id"] for _ in range(count)]


def _read(engine, after_id: int) -> list[event_rows.StoredEvent]:
    with engine.connect() as conn:
        return event_rows.select_events_after(conn, after_id)


def _insert(conn, session_id: int, n: int = 0) -> int:  # noqa: ANN001
    return event_rows.insert_event(conn, session_id=session_id, frame=("typing", {"n": n}))


def test_the_tailer_holds_at_an_event_whose_transaction_commits_later(engine):
    first, second = _sessions(engine, 2)
    start = _read_max(engine)
    slow = engine.connect()
    slow_tx = slow.begin()
    slow_id = _insert(slow, first)  # takes the lower id, commits last
    with engine.begin() as conn:
        fast_id = _insert(conn, second)
    assert fast_id > slow_id
    assert _read(engine, start) == []  # id slow_id is in flight: hold before it
    assert _read(engine, start) == []
    slow_tx.commit()
    slow.close()
    assert [event.id for event in _read(engine, start)] == [slow_id, fast_id]


def test_a_rolled_back_event_id_is_passed_once_its_transaction_has_ended(engine):
    first, second = _sessions(engine, 2)
    start = _read_max(engine)
    doomed = engine.connect()
    doomed_tx = doomed.begin()
    _insert(doomed, first)
    with engine.begin() as conn:
        kept = _insert(conn, second)
    assert _read(engine, start) == []
    doomed_tx.rollback()
    doomed.close()
    # The first read after the rollback may only note the gap; the next passes it.
    seen = _read(engine, start) or _read(engine, start)
    assert [event.id for event in seen] == [kept]


def test_a_session_takes_its_seq_in_commit_order_so_a_replay_misses_nothing(engine):
    (session_id,) = _sessions(engine, 1)
    first = engine.connect()
    first_tx = first.begin()
    _insert(first, session_id, 1)
    second_done = threading.Event()

    def second_writer() -> None:
        with engine.begin() as conn:
            _insert(conn, session_id, 2)
        second_done.set()

    thread = threading.Thread(target=second_writer)
    thread.start()
    time.sleep(0.3)
    assert not second_done.is_set()  # waits for the session's row lock
    with engine.connect() as conn:
        assert event_rows.select_session_events_after(conn, session_id, 0) == []
    first_tx.commit()
    first.close()
    thread.join(10)
    with engine.connect() as conn:
        replayed = event_rows.select_session_events_after(conn, session_id, 0)
    assert [(event.seq, event.payload_json) for event in replayed] == [(1, '{"n":1}'), (2, '{"n":2}')]


def test_the_tailer_starts_before_an_event_still_in_flight(engine):
    first, second = _sessions(engine, 2)
    with engine.begin() as conn:
        _insert(conn, first)
    slow = engine.connect()
    slow_tx = slow.begin()
    slow_id = _insert(slow, first)
    with engine.begin() as conn:
        _insert(conn, second)
    start = _read_max(engine)
    assert start == slow_id - 1
    slow_tx.commit()
    slow.close()
    assert slow_id in [event.id for event in _read(engine, start)]


def test_concurrent_writers_committing_out_of_order_lose_no_event_to_a_moving_tailer(engine):
    """Eight writers on four sessions, each holding its transaction open for a random
    while (some roll back), and a tailer moving its cursor to the last event it read:
    every committed event is read exactly once, and each session's seqs have no gap."""
    session_ids = _sessions(engine, 4)
    start = _read_max(engine)
    committed: list[int] = []
    committed_lock = threading.Lock()
    stop = threading.Event()

    errors: list[BaseException] = []

    def writer(seed: int) -> None:
        try:
            write(seed)
        except BaseException as error:
            errors.append(error)

    def write(seed: int) -> None:
        rng = random.Random(seed)
        for n in range(40):
            with engine.connect() as conn:
                tx = conn.begin()
                event_id = _insert(conn, rng.choice(session_ids), n)
                time.sleep(rng.random() * 0.004)
                if rng.random() < 0.1:
                    tx.rollback()
                    continue
                tx.commit()
                with committed_lock:
                    committed.append(event_id)

    read: list[int] = []

    def tailer() -> None:
        cursor = start
        while not stop.is_set() or cursor < max(committed, default=start):
            batch = _read(engine, cursor)
            if batch:
                read.extend(event.id for event in batch)
                cursor = batch[-1].id
            else:
                time.sleep(0.001)

    writers = [threading.Thread(target=writer, args=(seed,)) for seed in range(8)]
    reader = threading.Thread(target=tailer)
    reader.start()
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join(60)
    stop.set()
    reader.join(30)
    assert not reader.is_alive()
    assert errors == []
    assert len(committed) > 200
    assert read == sorted(committed)
    with engine.connect() as conn:
        for session_id in session_ids:
            seqs = [event.seq for event in event_rows.select_session_events_after(conn, session_id, 0)]
            assert seqs == list(range(1, len(seqs) + 1))


def _read_max(engine) -> int:  # noqa: ANN001
    with engine.connect() as conn:
        return event_rows.select_max_event_id(conn)
