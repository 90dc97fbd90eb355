"""WAL checkpoints off the request path.

By default SQLite checkpoints inside whichever COMMIT pushes the write-ahead log past
1,000 pages, so now and then one trainee's message waits while pages are copied into the
database file: that was most of the benchmark's tail latency (docs/performance.md, Design
measurements). ChatTrain's connections turn that off (`PRAGMA wal_autocheckpoint=0`, see
engine.py and worker/queue_storage.py) and each web and worker process runs this thread, which
checkpoints both files (the chat database and the queue) in PASSIVE mode: it copies what
no reader still needs and never blocks a reader or a writer. Several processes may each
run one; a checkpoint already running elsewhere makes this one a no-op.

It checkpoints a file only once its log holds `min_frames` pages not yet copied (1,000,
SQLite's own autocheckpoint threshold), read from the WAL-index header. Checkpointing a
small log early buys nothing, and costs the next write: once everything is copied, the
next commit restarts the log from its beginning, which means writing and syncing a new
log header and overwriting pages the kernel may still be writing back, in the web
process and in the worker, all on the trainee's wait (traced on the first reply after a
quiet minute: docs/performance.md, Design measurements).

While no log grows the thread looks less often, backing off to IDLE_INTERVAL_SECONDS:
each look is a thread wake-up, and looking often in every process was a large share of an
idle stack's CPU (docs/performance.md, Design measurements)."""

from __future__ import annotations

import logging
import os
import sqlite3
import struct
import threading
from pathlib import Path

from shared.db.engine import sqlite_file
from shared.db.write_lock import write_lock_for

log = logging.getLogger(__name__)

DEFAULT_MIN_FRAMES = 1000
# A log this many times min_frames long is checkpointed with RESTART (about 40 MB at the
# default), and writers wait up to RESTART_WAIT_SECONDS for it.
RESTART_FACTOR = 10
RESTART_WAIT_SECONDS = 5.0
# The longest pause between looks while nothing is written.
IDLE_INTERVAL_SECONDS = 2.0

# The WAL-index (the "-shm" file) starts with two copies of a 48-byte header (identical
# unless a writer is mid-update), then the checkpoint info. In native byte order: the
# format version at offset 0, isInit at 12, mxFrame (frames in the log) at 16, and
# nBackfill (frames already copied to the database) at 96. https://sqlite.org/walformat.html
_WAL_INDEX_VERSION = 3007000
_HEADER_BYTES = 48


def log_frames(wal_index: bytes) -> tuple[int, int] | None:
    """(frames in the log, frames of them already copied to the database), from the first
    100 bytes of the WAL-index; None when they cannot be read (no log yet, or a header
    being rewritten)."""
    if len(wal_index) < 100:
        return None
    first, second = wal_index[:_HEADER_BYTES], wal_index[_HEADER_BYTES : 2 * _HEADER_BYTES]
    version, _, _, is_init = struct.unpack_from("=IIIB", first)
    if first != second or version != _WAL_INDEX_VERSION or not is_init:
        return None
    (max_frame,) = struct.unpack_from("=I", first, 16)
    (backfilled,) = struct.unpack_from("=I", wal_index, 96)
    return max_frame, min(backfilled, max_frame)


def next_interval(current: float, *, base: float, grew: bool, longest: float = IDLE_INTERVAL_SECONDS) -> float:
    """The pause before the next look: `base` after a look that saw a log grow, else
    twice the last pause, up to `longest` (never below `base`)."""
    return base if grew else max(base, min(current * 2, longest))


def sqlite_files(settings) -> list[Path]:  # noqa: ANN001
    """The SQLite files a process works on: the chat database (when it is SQLite) and the queue."""
    return [path for path in (sqlite_file(settings.resolved_database_url), settings.queue_file) if path]


def checkpointer_for(settings) -> WalCheckpointer:  # noqa: ANN001
    """The checkpointer of a process, for both files."""
    return WalCheckpointer(
        sqlite_files(settings),
        interval_seconds=settings.wal_checkpoint_interval_ms / 1000,
        min_frames=settings.wal_checkpoint_min_frames,
    )


class WalCheckpointer:
    def __init__(
        self,
        files: list[Path],
        *,
        interval_seconds: float,
        min_frames: int = DEFAULT_MIN_FRAMES,
        name: str = "chattrain-checkpoint",
    ):
        self.files = files
        self.interval_seconds = interval_seconds
        self.min_frames = min_frames
        self.restart_frames = RESTART_FACTOR * min_frames
        self._wal_index_fds: dict[Path, int] = {}
        self._behind: set[Path] = set()  # files whose last pass left frames uncopied
        self._last_frames: dict[Path, int | None] = {}  # each log's length at the last look
        self.grew = False  # whether the last look saw a log grow (or could not tell)
        self.name = name
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if not self.files or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def checkpoint_once(self, connections: dict[Path, sqlite3.Connection]) -> dict[Path, tuple[int, int, int]]:
        """One checkpoint of every file whose log holds `min_frames` uncopied frames (or
        whose WAL-index cannot be read, or whose last pass fell short): PASSIVE, or
        RESTART once the log has grown to `restart_frames`. (busy, frames, copied) each."""
        results = {}
        self.grew = False
        for path in self.files:
            frames = self._log_frames(path)
            length = None if frames is None else frames[0]
            if length is None or length != self._last_frames.get(path):
                self.grew = True
            self._last_frames[path] = length
            pending = None if frames is None else frames[0] - frames[1]
            if pending is not None and pending < self.min_frames and path not in self._behind:
                continue
            conn = connections.get(path)
            if conn is None:
                if not path.exists():
                    continue
                conn = connections[path] = sqlite3.connect(
                    path, timeout=0, isolation_level=None, check_same_thread=False
                )
            if frames is not None and frames[0] >= self.restart_frames:
                results[path] = self._restart(path, conn)
            else:
                results[path] = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            busy, frames_in_log, copied = results[path]
            # Under steady writes a pass rarely copies everything (readers hold older
            # snapshots, writers add frames): keep passing each interval until one does,
            # as the log is restarted only after that.
            if busy or copied < frames_in_log:
                self._behind.add(path)
            else:
                self._behind.discard(path)
        return results

    def _restart(self, path: Path, conn: sqlite3.Connection) -> tuple[int, int, int]:
        """A checkpoint that waits for the writers and readers of the moment, copies the
        whole log and has the next write start it over. Under sustained writes PASSIVE
        passes never catch up, and the log grows for as long as the writes last
        (docs/performance.md, Design measurements); this bounds it, at the cost of one pause of the
        writers per `restart_frames`. ChatTrain's writers queue on the file's write lock
        (write_lock.py) meanwhile instead of retrying against SQLite's."""
        lock = write_lock_for(path)
        lock.acquire(conn, RESTART_WAIT_SECONDS)
        try:
            conn.execute(f"PRAGMA busy_timeout={int(RESTART_WAIT_SECONDS * 1000)}")
            return conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
        finally:
            conn.execute("PRAGMA busy_timeout=0")
            lock.release(conn)

    def _log_frames(self, path: Path) -> tuple[int, int] | None:
        fd = self._wal_index_fd(path)
        return None if fd is None else log_frames(os.pread(fd, 100, 0))

    def _wal_index_fd(self, path: Path) -> int | None:
        """A descriptor on the file's WAL-index, opened once and never closed. SQLite
        locks that file with POSIX record locks, which belong to the process: closing any
        descriptor of the file would drop the locks of every connection in it."""
        shm = Path(f"{path}-shm")
        fd = self._wal_index_fds.get(path)
        try:
            if fd is None or os.fstat(fd).st_ino != os.stat(shm).st_ino:
                # Opened for the first time, or the file was recreated (every connection
                # had closed): the old descriptor stays open, for the reason above.
                fd = self._wal_index_fds[path] = os.open(shm, os.O_RDONLY)
        except FileNotFoundError:
            return None
        return fd

    def _run(self) -> None:
        connections: dict[Path, sqlite3.Connection] = {}
        interval = self.interval_seconds
        try:
            while not self._stopped.wait(interval):
                try:
                    self.checkpoint_once(connections)
                except sqlite3.Error as error:  # busy or locked: the next pass tries again
                    log.debug("WAL checkpoint skipped: %s", error)
                    self.grew = True
                interval = next_interval(interval, base=self.interval_seconds, grew=self.grew or bool(self._behind))
        finally:
            for conn in connections.values():
                conn.close()
