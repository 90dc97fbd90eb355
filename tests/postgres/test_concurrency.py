"""What SQLite's BEGIN IMMEDIATE made race-free, on PostgreSQL at READ COMMITTED, driven
from several connections at once: the open-sessions cap and the rate limits (two web
processes), overlapping sweeps, the credentials counter, a session's masking vault; and
claims and tickets judged by the database's clock, not the host's."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import text, update

from shared.conversation.writes import accept_trainee_message, write_opening_line
from shared.db import jobs as job_rows
from shared.db import sessions as session_rows
from shared.db.limits import LimitExceeded, RateLimit, check_active_sessions, hit_rate_limit
from shared.db.scenario_rows import upsert_scenario
from shared.db.schema import reply_jobs
from shared.db.users import (
    consume_ws_ticket,
    insert_user,
    insert_ws_ticket,
    select_credentials_revoked_after,
    update_user_token,
)
from shared.masking.policy import MaskingPolicy
from worker.maintenance import sweep
from worker.runtime import WorkerRuntime

WRITERS = 8


def _all_at_once(engine, work, count: int = WRITERS) -> list:  # noqa: ANN001
    """Run `work(conn)` in `count` transactions on their own connections, started together
    and each holding its transaction a moment before committing; outcomes in order."""
    barrier = threading.Barrier(count)

    def one(_index: int):  # noqa: ANN202
        with engine.connect() as conn:
            barrier.wait()
            try:
                with conn.begin():
                    result = work(conn)
                    time.sleep(0.05)  # widen the window a race needs
                return result
            except LimitExceeded as refused:
                return refused

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, range(count)))


def _scenario_id(engine) -> int:  # noqa: ANN001
    with engine.begin() as conn:
        return upsert_scenario(conn, slug="s", title="S", config={}, file_path="/nowhere")


def test_the_open_sessions_cap_holds_when_web_processes_create_sessions_at_once(engine):
    scenario_id = _scenario_id(engine)

    def create(conn):  # noqa: ANN001, ANN202
        check_active_sessions(conn, user_id="trainee-1", max_active=3)
        return session_rows.insert_session(conn, scenario_id=scenario_id, user_id="trainee-1")["id"]

    outcomes = _all_at_once(engine, create)
    assert sum(isinstance(outcome, int) for outcome in outcomes) == 3
    assert sum(isinstance(outcome, LimitExceeded) for outcome in outcomes) == WRITERS - 3
    with engine.connect() as conn:
        assert session_rows.count_active_sessions(conn, "trainee-1") == 3


def test_a_rate_limit_counts_every_hit_from_concurrent_connections(engine):
    limit = RateLimit("trainee_message", max_hits=5, window_seconds=3600)
    outcomes = _all_at_once(engine, lambda conn: hit_rate_limit(conn, user_id="trainee-1", limit=limit))
    assert sorted(outcome for outcome in outcomes if isinstance(outcome, int)) == [1, 2, 3, 4, 5]
    assert sum(isinstance(outcome, LimitExceeded) for outcome in outcomes) == WRITERS - 5


def test_overlapping_sweeps_re_enqueue_each_lost_job_once(runtime):
    engine = runtime.engine
    with runtime.write_engine.begin() as conn:
        scenario_id = _scenario_id(engine)
        session_id = session_rows.insert_session(conn, scenario_id=scenario_id, user_id="trainee-1")["id"]
        write_opening_line(conn, session_id=session_id, content="Hello.")
        for n in range(20):
            accept_trainee_message(
                conn,
                session_id=session_id,
                content=f"line {n}",
                client_message_id=None,
                masking=MaskingPolicy(enabled=False, secret=b"k"),
                reply_expiry_seconds=600,
            )
        # Every job lost its worker: its claim ran out a minute ago by the database's clock.
        conn.execute(
            update(reply_jobs).values(
                status="working", worker_id="gone:1:x:run", claim_expires_at=text("extract(epoch from now()) - 60")
            )
        )
    enqueued: list[int] = []
    lock = threading.Lock()

    def enqueue(message_id: int) -> None:
        with lock:
            enqueued.append(message_id)

    # Four worker processes' sweeps: each runtime has its own writer and connection, as each
    # process does (one runtime's writes take turns on its one connection and never overlap).
    workers = [WorkerRuntime(runtime.settings) for _ in range(4)]
    barrier = threading.Barrier(4)

    def one_sweep(index: int) -> int:
        barrier.wait()
        return sweep(workers[index], enqueue)

    try:
        with ThreadPoolExecutor(4) as pool:
            counts = list(pool.map(one_sweep, range(4)))
    finally:
        for worker in workers:
            worker.engine.dispose()
    assert sum(counts) == 20
    assert len(enqueued) == len(set(enqueued)) == 20


def test_credentials_revisions_follow_commit_order_across_concurrent_revocations(engine):
    with engine.begin() as conn:
        for n in range(WRITERS):
            insert_user(conn, user_id=f"user-{n}", role="trainee")
    names = iter(range(WRITERS))
    names_lock = threading.Lock()

    def rotate(conn):  # noqa: ANN001, ANN202
        with names_lock:
            n = next(names)
        return update_user_token(conn, f"user-{n}")

    _all_at_once(engine, rotate)
    with engine.connect() as conn:
        revisions = [revision for _user, revision in select_credentials_revoked_after(conn, 0)]
    assert revisions == list(range(1, WRITERS + 1))


def test_concurrent_writers_to_one_session_keep_every_masked_value_in_its_vault(engine):
    scenario_id = _scenario_id(engine)
    with engine.begin() as conn:
        session_id = session_rows.insert_session(conn, scenario_id=scenario_id, user_id="trainee-1")["id"]
    masking = MaskingPolicy(enabled=True, secret=b"test-key")
    counter = iter(range(WRITERS))
    counter_lock = threading.Lock()

    def say(conn):  # noqa: ANN001, ANN202
        with counter_lock:
            n = next(counter)
        return accept_trainee_message(
            conn,
            session_id=session_id,
            content=f"mail me at person{n}@example.com",
            client_message_id=f"m{n}",
            masking=masking,
            reply_expiry_seconds=600,
        )

    _all_at_once(engine, say)
    with engine.connect() as conn:
        vault = session_rows.select_session(conn, session_id)["data"]
    assert len(str(vault).split("EMAIL")) - 1 >= WRITERS, vault


def test_claims_expire_by_the_database_clock_not_the_hosts(runtime):
    engine = runtime.engine
    with runtime.write_engine.begin() as conn:
        scenario_id = _scenario_id(engine)
        session_id = session_rows.insert_session(conn, scenario_id=scenario_id, user_id="trainee-1")["id"]
        message_id = accept_trainee_message(
            conn,
            session_id=session_id,
            content="hi",
            client_message_id=None,
            masking=MaskingPolicy(enabled=False, secret=b"k"),
            reply_expiry_seconds=600,
        ).message_id
    an_hour_fast = time.time() + 3600  # a host whose clock runs an hour ahead
    with runtime.write_engine.begin() as conn:
        job = job_rows.claim_reply_job(conn, message_id, claimant="a:1:x:run", now=time.time(), claim_seconds=30)
        database_now = conn.execute(text("SELECT extract(epoch from clock_timestamp())::float8")).scalar_one()
        assert database_now + 29 < job["claim_expires_at"] < database_now + 31
    with runtime.write_engine.begin() as conn:
        # The fast host does not see the claim as run out, so it cannot take the job.
        assert (
            job_rows.claim_reply_job(conn, message_id, claimant="b:2:y:run", now=an_hour_fast, claim_seconds=30) is None
        )
        assert job_rows.select_recoverable_jobs(conn, now=an_hour_fast, queued_seconds=3600) == []


def test_tickets_expire_by_the_database_clock_not_the_hosts(engine):
    with engine.begin() as conn:
        insert_user(conn, user_id="trainee-1", role="trainee")
        ticket, expires_at = insert_ws_ticket(
            conn, user_id="trainee-1", credentials_revision=0, now=time.time() - 3600, ttl_seconds=60
        )  # a host an hour slow
        database_now = conn.execute(text("SELECT extract(epoch from clock_timestamp())::float8")).scalar_one()
        assert database_now + 59 < expires_at < database_now + 61
    with engine.begin() as conn:  # a host an hour fast still accepts it
        assert consume_ws_ticket(conn, ticket, now=time.time() + 3600)["id"] == "trainee-1"


def test_a_heartbeat_is_stamped_by_the_database_clock(engine):
    from shared.db.dbclock import select_now
    from shared.db.workers import select_last_worker_seen, upsert_worker_heartbeat

    with engine.begin() as conn:
        upsert_worker_heartbeat(conn, worker_id="w", host="fast-host", pid=1, started_at="x", now=time.time() + 3600)
        database_now = select_now(conn, time.time() + 3600)
        assert database_now - 1 < select_last_worker_seen(conn) <= database_now
        assert abs(database_now - time.time()) < 5


def test_extending_claims_skips_a_job_another_transaction_holds_instead_of_waiting(runtime):
    engine = runtime.engine
    with runtime.write_engine.begin() as conn:
        session_id = session_rows.insert_session(conn, scenario_id=_scenario_id(engine), user_id="trainee-1")["id"]
        message_ids = [
            accept_trainee_message(
                conn,
                session_id=session_id,
                content=f"line {n}",
                client_message_id=None,
                masking=MaskingPolicy(enabled=False, secret=b"k"),
                reply_expiry_seconds=600,
            ).message_id
            for n in range(2)
        ]
        for message_id in message_ids:
            job_rows.claim_reply_job(
                conn, message_id, claimant=f"{runtime.worker_id}:run", now=time.time(), claim_seconds=30
            )
    with engine.connect() as writing, engine.connect() as beating:
        writing.begin()
        job_rows.claim_reply_job(
            writing, message_ids[0], claimant=f"{runtime.worker_id}:run", now=time.time(), claim_seconds=30
        )  # a grouped write of this worker, not yet committed
        with beating.begin():
            beating.execute(text("SET LOCAL lock_timeout = '10s'"))  # waiting would fail, not hang
            extended = job_rows.extend_claims(beating, worker_id=runtime.worker_id, now=time.time(), claim_seconds=30)
        writing.rollback()
    assert extended == 1
