"""`chattrain users erase` on trainees stored through the real app and worker
(tests/shared/cli/conftest.py). After it, a walk of every table of the schema finds
nothing that names the trainee, their sessions or their messages (only the tombstone's
id), while the other trainee's rows are exactly as they were."""

from __future__ import annotations

import asyncio
import json

from sqlalchemy import select

from shared.db.erasure import TOMBSTONE_KEEPS, erasure_plan
from shared.db.schema import metadata, sessions, users
from shared.db.users import update_user_disabled
from tests.support.client import open_socket, read_session_start


def _snapshot(runtime) -> dict[str, list[dict]]:  # noqa: ANN001
    """Every row of every table of the schema."""
    with runtime.engine.connect() as conn:
        return {
            table.name: [dict(row._mapping) for row in conn.execute(select(table))] for table in metadata.sorted_tables
        }


def _references(column) -> str | None:  # noqa: ANN001
    """Which kind of id a column holds: a user's, a session's or a message's."""
    targets = {fk.column.table.name for fk in column.foreign_keys}
    if column.name == "user_id" or "users" in targets:
        return "user"
    if column.name == "session_id" or "sessions" in targets:
        return "session"
    if column.name in ("message_id", "reply_to") or "messages" in targets:
        return "message"
    return None


def _theirs(snapshot: dict[str, list[dict]], user_id: str) -> dict[str, set]:
    session_ids = {row["id"] for row in snapshot["sessions"] if row["user_id"] == user_id}
    message_ids = {row["id"] for row in snapshot["messages"] if row["session_id"] in session_ids}
    return {"user": {user_id}, "session": session_ids, "message": message_ids}


def _rows_naming(snapshot: dict[str, list[dict]], ids: dict[str, set], words: list[str]) -> dict[str, list[dict]]:
    """The rows, table by table, with a column holding one of `ids` (by kind) or any text
    containing one of `words`. The users row's own id is left to the caller."""
    found: dict[str, list[dict]] = {}
    for table in metadata.sorted_tables:
        for row in snapshot[table.name]:
            by_column = any(
                (kind := _references(column)) is not None and row[column.name] in ids[kind] for column in table.c
            )
            if table.name == "sessions" and row["id"] in ids["session"]:
                by_column = True
            if table.name == "messages" and row["id"] in ids["message"]:
                by_column = True
            text = json.dumps(
                {key: value for key, value in row.items() if not (table.name == "users" and key == "id")}, default=str
            )
            if by_column or any(word in text for word in words):
                found.setdefault(table.name, []).append(row)
    return found


async def test_erasing_a_trainee_leaves_no_row_of_theirs_in_any_table_and_the_other_untouched(
    trainees, runtime, chattrain, client
):
    erin, kept = trainees
    before = _snapshot(runtime)
    words = [erin.user.id, erin.display_name, erin.email]
    ids = _theirs(before, erin.user.id)
    theirs_before = _rows_naming(before, ids, words)
    # Every table the erasure deletes from held rows of hers: the walk below proves something.
    assert {table.name for table in erasure_plan()} <= set(theirs_before)
    vaults = [json.loads(row["data_json"]).get("masking", {}) for row in theirs_before["sessions"]]
    assert any(vault.get("entries") for vault in vaults)  # her email is in her sessions' masking vaults

    refused = await chattrain("users", "erase", erin.user.id)
    assert refused.exit_code == 1
    assert "nothing was removed: run again with --yes" in refused.output
    counts = {line.split()[0]: line.split()[1] for line in refused.stdout.splitlines()[1:]}
    assert counts["messages"] == str(len(theirs_before["messages"]))
    assert counts["sessions"] == "3" and counts["reports"] == "2"
    assert _snapshot(runtime) == before  # the count removed nothing

    result = await chattrain("users", "erase", erin.user.id, "--yes")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"Erased {erin.user.id} at ")
    after = _snapshot(runtime)

    assert _rows_naming(after, ids, words) == {}  # only the tombstone's id is left
    (tombstone,) = [row for row in after["users"] if row["id"] == erin.user.id]
    assert tombstone["disabled"] and result.stdout.startswith(f"Erased {erin.user.id} at {tombstone['erased_at']}, ")
    assert all(value is None for key, value in tombstone.items() if key not in TOMBSTONE_KEEPS)
    (was,) = [row for row in before["users"] if row["id"] == erin.user.id]
    assert tombstone["token_hash"] != was["token_hash"]
    assert tombstone["credentials_revision"] > was["credentials_revision"]

    # The other trainee's rows, and everything of no one's, are exactly as they were.
    for table in metadata.sorted_tables:
        erased = theirs_before.get(table.name, [])
        untouched = [row for row in before[table.name] if row not in erased]
        if table.name == "users":
            assert [row for row in after["users"] if row["id"] != erin.user.id] == untouched
        elif table.name == "workers":
            continue  # the app's heartbeats go on
        else:
            assert after[table.name] == untouched, table.name
    assert _rows_naming(after, _theirs(after, kept.user.id), [kept.display_name]) == _rows_naming(
        before, _theirs(before, kept.user.id), [kept.display_name]
    )

    assert (await client.get("/api/me", headers=erin.user.headers)).status_code == 401
    assert (await client.get("/api/me", headers=kept.user.headers)).status_code == 200


async def test_an_erased_trainees_socket_is_closed_and_their_id_gets_no_token_and_is_not_given_again(
    trainees, chattrain, client, runtime
):
    erin, _kept = trainees
    active = erin.session_ids[-1]
    async with open_socket(client, f"/chat/{active}", erin.user) as ws:
        await read_session_start(ws)
        result = await chattrain("users", "erase", erin.user.id, "--yes")
        assert result.exit_code == 0, result.output
        while True:  # the revision raised by the erasure reaches the socket
            frame = json.loads(await asyncio.wait_for(ws.receive(), 5))
            if frame["type"] == "error":
                break
        assert frame["code"] == "token_revoked"

    again = await chattrain("users", "create", "--role", "trainee", "--id", erin.user.id)
    assert again.exit_code == 1 and "was erased; an erased user's id is not given again" in again.output
    assert (await chattrain("users", "rotate-token", erin.user.id)).exit_code == 1
    listed = (await chattrain("users", "list")).stdout.splitlines()
    assert [line.split()[:3] for line in listed if line.startswith(erin.user.id)] == [
        [erin.user.id, "trainee", "erased"]
    ]
    with runtime.engine.connect() as conn:
        assert not update_user_disabled(conn, erin.user.id, disabled=False)  # a tombstone stays disabled


async def test_erasing_twice_finds_nothing_left_and_an_unknown_id_is_refused(trainees, chattrain, runtime):
    erin, _kept = trainees
    assert (await chattrain("users", "erase", erin.user.id, "--yes")).exit_code == 0
    second = await chattrain("users", "erase", erin.user.id, "--yes")
    assert (
        second.exit_code == 0 and f"Erased {erin.user.id} at" in second.stdout and ", 0 rows removed" in second.stdout
    )
    unknown = await chattrain("users", "erase", "nobody-here", "--yes")
    assert unknown.exit_code == 1 and "no user 'nobody-here' and no rows of theirs" in unknown.output
    with runtime.engine.connect() as conn:
        assert conn.execute(select(sessions.c.id).where(sessions.c.user_id == erin.user.id)).first() is None
        assert conn.execute(select(users.c.disabled).where(users.c.id == erin.user.id)).scalar_one()
