"""The figures GET /metrics reports, gathered at scrape time and rendered in Prometheus's
text format by a custom collector.

Almost everything comes from the database (replies, failures, heartbeats) or the queue,
so every web process reports the same values and any of them may be scraped: aggregate
them across processes with `max`, not `sum`. Only `chattrain_open_sockets` belongs to the
process that answered, and carries its `pid`.

Latencies are quantiles over the replies whose model call started in the last
`WINDOW_SECONDS` (at most `WINDOW_REPLIES` of them), computed here, rather than a
cumulative histogram: a histogram's buckets would have to count every reply ever stored
on each scrape, a full read of the reply_jobs table that grows with every reply stored
(docs/performance.md, Design measurements), where the window is read through an index."""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from sqlalchemy import Connection

from shared.db.dbclock import select_now
from shared.db.reply_stats import (
    ReplyTiming,
    count_failed_replies_by_code,
    count_reply_jobs_by_status,
    select_recent_reply_timings,
)
from shared.db.workers import select_live_workers, select_model_calls
from web.bounded_calls import BoundedCall, CallFailed

WINDOW_SECONDS = 300
WINDOW_REPLIES = 2000
QUANTILES = (0.5, 0.9, 0.99)
CALL_TIMEOUT_SECONDS = 2.0
# Error codes come from the model providers' code; a label per distinct value, capped
# so that a provider inventing codes cannot make the scrape grow without bound.
MOST_ERROR_CODES = 30


@dataclass
class DatabaseFigures:
    timings: list[ReplyTiming]
    statuses: dict[str, int]
    failures: dict[str, int]
    live_workers: int
    live_hosts: int
    model_calls: int
    model_calls_waiting: int


@dataclass
class Snapshot:
    """Everything one scrape reports; None where the database or the queue failed to
    answer (the `*_up` gauges say so)."""

    database: DatabaseFigures | None
    queue_depth: int | None
    open_sockets: int
    pid: int = field(default_factory=os.getpid)


def select_database_figures(
    conn: Connection, *, now: float, window_seconds: float, live_within: float
) -> DatabaseFigures:
    """The database's part of a scrape, in one read transaction."""
    now = select_now(conn, now)  # heartbeats and enqueue times are stamped by it on PostgreSQL
    live_workers, live_hosts = select_live_workers(conn, seen_since=now - live_within)
    calls, waiting = select_model_calls(conn, seen_since=now - live_within)
    return DatabaseFigures(
        timings=select_recent_reply_timings(conn, since=now - window_seconds, limit=WINDOW_REPLIES),
        statuses=count_reply_jobs_by_status(conn),
        failures=count_failed_replies_by_code(conn),
        live_workers=live_workers,
        live_hosts=live_hosts,
        model_calls=calls,
        model_calls_waiting=waiting,
    )


class MetricsGatherer:
    """Reads a snapshot for each scrape, each call bounded (web/bounded_calls.py) so a
    server that hangs makes the scrape report it down instead of timing out."""

    def __init__(self, app, live_within: float):  # noqa: ANN001
        self._app = app
        self._live_within = live_within
        self._database_call = BoundedCall("database", CALL_TIMEOUT_SECONDS)
        self._queue_call = BoundedCall("queue", CALL_TIMEOUT_SECONDS)

    async def snapshot(self) -> Snapshot:
        database, depth = await asyncio.gather(self._database(), self._queue_depth())
        return Snapshot(database=database, queue_depth=depth, open_sockets=self._app.open_sockets)

    async def _database(self) -> DatabaseFigures | None:
        try:
            return await self._database_call(
                lambda: self._app.db.read(
                    select_database_figures,
                    now=time.time(),
                    window_seconds=WINDOW_SECONDS,
                    live_within=self._live_within,
                )
            )
        except CallFailed:
            return None

    async def _queue_depth(self) -> int | None:
        try:
            depth, _latency_ms = await self._queue_call(
                lambda: asyncio.to_thread(self._app.reply_queue.depth_and_latency)
            )
            return depth
        except CallFailed:
            return None


class SnapshotCollector:
    """A prometheus_client collector yielding one snapshot's metric families."""

    def __init__(self, snapshot: Snapshot):
        self._snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        snapshot = self._snapshot
        yield _gauge(
            "chattrain_database_up", "1 when the database answered this scrape's read.", snapshot.database is not None
        )
        yield _gauge(
            "chattrain_queue_up", "1 when the queue answered this scrape's read.", snapshot.queue_depth is not None
        )
        sockets = GaugeMetricFamily(
            "chattrain_open_sockets",
            "Chat sockets open in the web process that answered (per process).",
            labels=["pid"],
        )
        sockets.add_metric([str(snapshot.pid)], snapshot.open_sockets)
        yield sockets
        if snapshot.queue_depth is not None:
            yield _gauge("chattrain_queue_depth", "Entries waiting in the queue for a worker.", snapshot.queue_depth)
        if snapshot.database is not None:
            yield from _database_families(snapshot.database)


def _database_families(figures: DatabaseFigures) -> Iterator[Metric]:
    open_replies = GaugeMetricFamily(
        "chattrain_open_replies", "Replies waiting for a worker (queued) or being written (working).", labels=["status"]
    )
    for status in ("queued", "working"):
        open_replies.add_metric([status], figures.statuses.get(status, 0))
    yield open_replies
    finished = CounterMetricFamily(
        "chattrain_replies_finished", "Reply jobs that ended: answered (done), failed, or expired.", labels=["status"]
    )
    for status in ("done", "failed", "expired"):
        finished.add_metric([status], figures.statuses.get(status, 0))
    yield finished
    errors = CounterMetricFamily(
        "chattrain_model_errors",
        "Replies that failed for good, by the model error's code (retried attempts that succeeded are not counted).",
        labels=["code"],
    )
    for code, count in _capped_codes(figures.failures).items():
        errors.add_metric([code], count)
    yield errors
    yield _gauge("chattrain_live_workers", "Workers whose heartbeat is recent.", figures.live_workers)
    yield _gauge("chattrain_live_worker_hosts", "Hosts with a live worker.", figures.live_hosts)
    calls = GaugeMetricFamily(
        "chattrain_model_calls",
        "Model calls in progress, and replies waiting for a model-call slot, over live workers.",
        labels=["state"],
    )
    calls.add_metric(["running"], figures.model_calls)
    calls.add_metric(["waiting"], figures.model_calls_waiting)
    yield calls
    window = f"replies whose model call started in the last {WINDOW_SECONDS} s"
    yield _gauge("chattrain_recent_replies", f"How many {window} (the quantiles' sample).", len(figures.timings))
    yield _quantiles(
        "chattrain_queue_wait_seconds",
        f"Enqueued to model request, quantiles over the {window}.",
        [timing.queue_wait for timing in figures.timings],
    )
    latency = GaugeMetricFamily(
        "chattrain_reply_latency_seconds",
        f"Trainee message stored to the model's first chunk, or to the reply stored; quantiles over the {window}.",
        labels=["until", "quantile"],
    )
    for until, ends in (
        ("first_chunk", [timing.first_chunk_at for timing in figures.timings]),
        ("stored", [timing.reply_stored_at for timing in figures.timings]),
    ):
        spans = [
            end - timing.message_stored_at for end, timing in zip(ends, figures.timings, strict=True) if end is not None
        ]
        for quantile, value in _nearest_ranks(spans):
            latency.add_metric([until, _shown(quantile)], value)
    yield latency


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=float(value))


def _quantiles(name: str, documentation: str, values: list[float]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=["quantile"])
    for quantile, value in _nearest_ranks(values):
        family.add_metric([_shown(quantile)], value)
    return family


def _nearest_ranks(values: list[float]) -> list[tuple[float, float]]:
    """Each of QUANTILES by nearest rank; none for an empty sample (the series is absent,
    not 0, while no reply was written)."""
    if not values:
        return []
    ordered = sorted(max(0.0, value) for value in values)
    return [(q, ordered[min(len(ordered) - 1, int(q * len(ordered)))]) for q in QUANTILES]


def _shown(quantile: float) -> str:
    return f"{quantile:g}"


def _capped_codes(failures: dict[str, int]) -> dict[str, int]:
    """Codes as label values (lower case, letters, digits and `_`), the most frequent
    MOST_ERROR_CODES of them, the rest counted under `other`."""
    merged: dict[str, int] = {}
    for code, count in failures.items():
        label = re.sub(r"[^a-z0-9_]", "_", code.lower())[:64] or "unknown"
        merged[label] = merged.get(label, 0) + count
    ranked = sorted(merged.items(), key=lambda item: (-item[1], item[0]))
    capped = dict(ranked[:MOST_ERROR_CODES])
    rest = sum(count for _, count in ranked[MOST_ERROR_CODES:])
    if rest:
        capped["other"] = capped.get("other", 0) + rest
    return capped


def render(snapshot: Snapshot) -> bytes:
    """The snapshot in Prometheus's text exposition format."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(snapshot))
    return generate_latest(registry)
