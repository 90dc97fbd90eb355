"""Group commit: writes ready at once share a transaction; each keeps its own outcome."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading

import pytest
from sqlalchemy import text

from shared.db.engine import BEGIN_MODE, create_sync_engine
from shared.db.grouped_writes import GroupedWriter, commit_group
from tests.support.stack import REPO_ROOT


@pytest.fixture(name="engine")
def _engine(tmp_path):  # noqa: ANN001, ANN202
    engine = create_sync_engine(f"sqlite:///{tmp_path / 'chat.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (value TEXT UNIQUE)"))
    yield engine
    engine.dispose()


def _writer(engine) -> GroupedWriter:  # noqa: ANN001
    def connect():  # noqa: ANN202
        conn = engine.connect()
        conn.execution_options(**{BEGIN_MODE: "IMMEDIATE"})
        return conn

    return GroupedWriter(connect)


def _insert(value: str):  # noqa: ANN202
    def write(conn) -> str:  # noqa: ANN001
        conn.execute(text("INSERT INTO t (value) VALUES (:value)"), {"value": value})
        return value

    return write


def _values(engine) -> list[str]:  # noqa: ANN001
    with engine.connect() as conn:
        return [row[0] for row in conn.execute(text("SELECT value FROM t ORDER BY rowid"))]


def test_a_write_alone_returns_its_result_and_a_failing_one_raises_and_leaves_nothing(engine) -> None:  # noqa: ANN001
    writer = _writer(engine)
    assert writer.write(_insert("a")) == "a"
    with pytest.raises(Exception, match="UNIQUE"):
        writer.write(_insert("a"))
    assert _values(engine) == ["a"]


def test_writes_from_many_threads_each_commit_once_and_a_failing_one_is_undone_alone(engine) -> None:  # noqa: ANN001
    writer = _writer(engine)
    outcomes: dict[str, object] = {}

    def run(value: str) -> None:
        try:
            outcomes[value] = writer.write(_insert(value))
        except Exception as error:  # noqa: BLE001
            outcomes[value] = error

    writer.write(_insert("taken"))
    threads = [threading.Thread(target=run, args=(value,)) for value in [f"v{i}" for i in range(40)] + ["taken"]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(_values(engine)) == sorted(["taken"] + [f"v{i}" for i in range(40)])
    assert all(outcomes[f"v{i}"] == f"v{i}" for i in range(40))
    assert "UNIQUE" in str(outcomes["taken"])


def test_under_gevent_the_greenlets_ready_at_once_commit_in_one_transaction(tmp_path) -> None:  # noqa: ANN001
    """The worker's case: greenlets woken in the same pass of the hub write together."""
    script = textwrap.dedent(
        f"""
        from gevent import monkey; monkey.patch_all()
        import gevent
        from sqlalchemy import event, text
        from shared.db.engine import BEGIN_MODE, create_sync_engine
        from shared.db.grouped_writes import GroupedWriter
        engine = create_sync_engine("sqlite:///{tmp_path / "chat.db"}")
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (value TEXT UNIQUE)"))
        def connect():
            conn = engine.connect()
            conn.execution_options(**{{BEGIN_MODE: "IMMEDIATE"}})
            return conn
        writer = GroupedWriter(connect)
        transactions = []
        event.listen(engine, "begin", lambda conn: transactions.append(1))
        def insert(value):
            def write(conn):
                conn.execute(text("INSERT INTO t (value) VALUES (:value)"), {{"value": value}})
                if value == "bad":
                    raise ValueError("refused")
                return value
            try:
                return writer.write(write)
            except ValueError as error:
                return str(error)
        values = [f"v{{i}}" for i in range(50)] + ["bad"]
        results = [greenlet.get() for greenlet in [gevent.spawn(insert, value) for value in values]]
        written_in = len(transactions)  # before the read below, which begins one of its own
        with engine.connect() as conn:
            stored = [row[0] for row in conn.execute(text("SELECT value FROM t ORDER BY rowid"))]
        print(results == values[:-1] + ["refused"], stored == values[:-1], written_in)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=REPO_ROOT)
    assert result.returncode == 0, result.stderr
    same_results, same_rows, transactions = result.stdout.split()
    assert (same_results, same_rows) == ("True", "True")
    assert 1 <= int(transactions) <= 3  # one in practice: all 51 were ready in the same pass


def _traced(engine):  # noqa: ANN001, ANN202
    """A connection of `engine` and the statements its driver runs."""
    conn = engine.connect()
    statements: list[str] = []
    conn.connection.driver_connection.set_trace_callback(statements.append)
    return conn, statements


def test_a_group_runs_without_savepoints_until_a_write_fails_then_each_write_in_its_own(engine) -> None:  # noqa: ANN001
    conn, statements = _traced(engine)
    calls: list[str] = []

    def insert(value: str):  # noqa: ANN202
        def write(connection) -> str:  # noqa: ANN001
            calls.append(value)
            return _insert(value)(connection)

        return write

    outcomes = commit_group(conn, [insert("a"), insert("b")])
    assert outcomes == [("a", None), ("b", None)]
    assert not [statement for statement in statements if "SAVEPOINT" in statement]
    assert calls == ["a", "b"]

    calls.clear()
    outcomes = commit_group(conn, [insert("c"), insert("a"), insert("d")])  # "a" is taken
    assert [result for result, _ in outcomes] == ["c", None, "d"]
    assert "UNIQUE" in str(outcomes[1][1])
    # The first pass stopped at the failure and was rolled back; the second ran each
    # write in a savepoint, undoing the failing one alone.
    assert calls == ["c", "a", "c", "a", "d"]
    assert [statement for statement in statements if "SAVEPOINT" in statement]
    conn.close()
    assert _values(engine) == ["a", "b", "c", "d"]
