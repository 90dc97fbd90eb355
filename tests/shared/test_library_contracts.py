"""The library internals ChatTrain relies on, each checked against the installed release.

ChatTrain subclasses or patches Huey, Hypercorn, Quart, quart-schema and psycopg where
their public API has no way to do what it needs (the modules named in each test say why).
pyproject.toml bounds each of those libraries below its next release; a release that
renames, drops or stops calling one of these internals fails a test here, naming it,
before it misbehaves in a running worker. Raising a bound: `make lock` with the new range,
then these tests."""

from __future__ import annotations

import inspect
import sqlite3
import threading

import huey.consumer
import hypercorn.protocol.ws_stream as ws_stream
import hypercorn.run
import psycopg.connection
import psycopg.waiting
import quart.asgi
import quart.wrappers.request
import quart.wrappers.websocket
from huey import Huey
from huey.registry import Message
from huey.serializer import Serializer
from huey.storage import BaseSqlStorage, MemoryStorage, RedisStorage, SqliteStorage
from pydantic import BaseModel
from quart import Quart
from quart_schema import OpenAPIProvider, validate_querystring, validate_request
from quart_schema.validation import QUART_SCHEMA_QUERYSTRING_ATTRIBUTE, QUART_SCHEMA_REQUEST_ATTRIBUTE
from redis import ConnectionPool

from web.openapi import ChatTrainOpenAPIProvider
from web.ws_compression import DeclinedPerMessageDeflate, disable_permessage_deflate
from web.ws_connection import LeanWebsocketConnection, ReceiveQueue
from worker.queue_entries import PlainDataSerializer
from worker.queue_storage import ChatTrainHuey, DoorbellSqliteStorage, create_queue_storage
from worker.redis_queue import RedisQueueStorage


def _parameters(function) -> list[str]:  # noqa: ANN001
    return list(inspect.signature(function).parameters)


# Huey: worker/queue_storage.py, worker/redis_queue.py, worker/queue_entries.py


def test_huey_sqlite_storage_opens_its_connection_through_create_connection_under_its_lock(settings):
    storage = create_queue_storage(settings, "contract")
    assert isinstance(storage, DoorbellSqliteStorage)
    assert storage._conn is None  # opened on first use, by `conn`, through _create_connection
    assert isinstance(storage.lock, type(threading.Lock()))
    assert isinstance(storage._timeout, int | float)
    conn = storage.conn
    assert isinstance(conn, sqlite3.Connection) and storage._conn is conn
    assert conn.execute("pragma synchronous").fetchone() == (1,)  # our override ran
    assert _parameters(SqliteStorage._create_connection) == ["self"]
    assert "self._create_connection()" in inspect.getsource(BaseSqlStorage)


def test_huey_sqlite_storage_keeps_the_db_sql_and_task_table_the_doorbell_queue_uses(settings):
    storage = create_queue_storage(settings, "contract")
    assert _parameters(BaseSqlStorage.db) == ["self", "commit", "close"]
    assert _parameters(BaseSqlStorage.sql) == ["self", "query", "params", "commit", "results"]
    assert [row[1] for row in storage.sql("pragma table_info(task)", results=True)] == [
        "id",
        "queue",
        "data",
        "priority",
    ]
    storage.enqueue_many([b"one", b"two"])  # our insert into Huey's table
    storage.enqueue(b"three")  # Huey's own insert
    assert storage.queue_size() == 3
    assert [storage.dequeue() for _ in range(3)] == [b"one", b"two", b"three"]
    with storage.db(commit=True, close=True) as cursor:
        cursor.execute("select 1")
    assert storage._conn is None  # close=True drops the connection, as Huey's does
    storage.close_doorbell()


def test_huey_consumer_waits_on_its_stop_flag_for_stop_flag_timeout():
    assert "self.stop_flag.wait(timeout=self._stop_flag_timeout)" in inspect.getsource(huey.consumer.Consumer)
    instance = ChatTrainHuey("contract", storage_class=MemoryStorage)
    consumer = instance.create_consumer(workers=1, worker_type="thread")
    assert consumer._stop_flag_timeout == 1.0


def test_huey_asks_the_instance_whether_a_task_is_revoked_and_clears_its_flag_through_delete():
    assert _parameters(ChatTrainHuey.is_revoked) == _parameters(Huey.is_revoked)
    assert _parameters(ChatTrainHuey.delete) == _parameters(Huey.delete)
    execute = inspect.getsource(Huey.execute) + inspect.getsource(Huey._execute)
    assert "self.is_revoked(task" in execute
    assert "self.delete(task.revoke_id)" in execute
    assert "def dequeue(self)" in inspect.getsource(Huey)


def test_huey_serializer_calls_serialize_and_deserialize_hooks_with_messages():
    assert "self._serialize(" in inspect.getsource(Serializer.serialize)
    assert "self._deserialize(" in inspect.getsource(Serializer.deserialize)
    fields = dict.fromkeys(Message._fields) | {"id": "id-1", "name": "worker.tasks.generate_reply", "args": (7,)}
    message = Message(**fields | {"kwargs": {}, "retries": 0, "retry_delay": 0})
    assert set(Message._fields) >= {"id", "name", "eta", "args", "kwargs", "on_complete", "on_error", "chord_config"}
    serializer = PlainDataSerializer()
    assert serializer.deserialize(serializer.serialize(message)) == message


def test_huey_redis_storage_takes_a_pool_and_exposes_conn_and_queue_key():
    assert {"name", "blocking", "read_timeout", "connection_pool"} <= set(_parameters(RedisStorage.__init__))
    # No server is contacted until a command runs.
    storage = RedisQueueStorage("contract", url="redis://127.0.0.1:1/0", read_timeout_seconds=1)
    assert storage.conn.connection_pool.connection_kwargs["health_check_interval"] == 30
    assert isinstance(storage.queue_key, str) and "contract" in storage.queue_key
    assert len(_parameters(RedisStorage.read_schedule)) == 2  # (self, a timestamp), called positionally
    assert isinstance(ConnectionPool.from_url("redis://127.0.0.1:1/0"), ConnectionPool)


# Hypercorn: web/ws_compression.py, web/hypercorn_config.py


def _offer_compression() -> list[tuple[bytes, bytes]]:
    handshake = ws_stream.Handshake(
        [
            (b"connection", b"Upgrade"),
            (b"upgrade", b"websocket"),
            (b"sec-websocket-version", b"13"),
            (b"sec-websocket-key", b"dGhlIHNhbXBsZSBub25jZQ=="),
            (b"sec-websocket-extensions", b"permessage-deflate; client_max_window_bits"),
        ],
        "1.1",
    )
    _status, headers, _connection = handshake.accept(None, [])
    return [value for name, value in headers if name == b"sec-websocket-extensions"]


def test_hypercorn_builds_each_handshakes_extension_from_the_module_global_we_replace(monkeypatch):
    monkeypatch.setattr(ws_stream, "PerMessageDeflate", ws_stream.PerMessageDeflate)  # restored after the test
    assert _offer_compression() != []  # Hypercorn's default: accepted
    disable_permessage_deflate()
    assert ws_stream.PerMessageDeflate is DeclinedPerMessageDeflate
    assert _offer_compression() == []


def test_hypercorn_serves_in_its_own_process_when_workers_is_zero():
    assert "config.workers == 0" in inspect.getsource(hypercorn.run.run)


# Quart: web/ws_connection.py, web/blueprints/chat.py (ws._send), web/json_body.py, web/app.py


def test_quart_websocket_connection_hands_received_frames_over_through_its_queue_attribute():
    assert _parameters(quart.asgi.ASGIWebsocketConnection.__init__) == ["self", "app", "scope"]
    source = inspect.getsource(quart.asgi.ASGIWebsocketConnection)
    assert "self.queue.put(" in source and "self.queue.get" in source
    assert {"put", "get"} <= set(dir(ReceiveQueue))
    assert "asgi_websocket_class" in vars(Quart)
    assert issubclass(LeanWebsocketConnection, quart.asgi.ASGIWebsocketConnection)


def test_quart_websocket_sends_through_the_send_callable_it_was_given():
    source = inspect.getsource(quart.wrappers.websocket.Websocket)
    assert "self._send = send" in source
    assert "await self._send(" in inspect.getsource(quart.wrappers.websocket.Websocket.send)


def test_quart_request_caches_parsed_json_per_silent_flag():
    source = inspect.getsource(quart.wrappers.request.Request)
    assert "self._cached_json: dict[bool, Any] = {False: Ellipsis, True: Ellipsis}" in source
    assert _parameters(quart.wrappers.request.Request.get_json) == ["self", "force", "silent", "cache"]


# quart-schema: web/openapi.py


class _Filter(BaseModel):
    page: int = 1


def test_quart_schema_marks_validated_handlers_with_the_attributes_our_openapi_reads():
    @validate_querystring(_Filter)
    @validate_request(_Filter)
    async def handler():  # noqa: ANN202
        return {}

    assert getattr(handler, QUART_SCHEMA_QUERYSTRING_ATTRIBUTE, None) is not None
    assert getattr(handler, QUART_SCHEMA_REQUEST_ATTRIBUTE, None) is not None


def test_quart_schema_openapi_provider_builds_paths_per_rule_and_path_parameters_per_converter():
    assert _parameters(OpenAPIProvider.build_paths) == ["self", "rule"]
    assert _parameters(OpenAPIProvider.build_path_parameter) == ["self", "name", "converter"]
    assert "self.build_paths(" in inspect.getsource(OpenAPIProvider)
    assert "self.build_path_parameter(" in inspect.getsource(OpenAPIProvider)
    assert issubclass(ChatTrainOpenAPIProvider, OpenAPIProvider)


# psycopg: worker/main.py


def test_psycopg_waits_through_the_module_attribute_we_swap_for_the_poll_wait():
    assert _parameters(psycopg.waiting.wait_poll) == _parameters(psycopg.waiting.wait)
    assert "waiting.wait(" in inspect.getsource(psycopg.connection)
