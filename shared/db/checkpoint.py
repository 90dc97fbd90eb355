"""WAL checkpoints off the request path.

By default SQLite checkpoints inside whichever COMMIT pushes the write-ahead log past
1,000 pages, so every few hundred replies one trainee's message waits several
milliseconds while pages are copied into the database file: that was most of the p99 in
the benchmark. ChatTrain's connections turn that off (`PRAGMA wal_autocheckpoint=0`, see
engine.py and worker/queue.py) and each web and worker process runs this thread, which
checkpoints both files (the chat database and the queue) in PASSIVE mode: it copies what
no reader still needs and never blocks a reader or a writer. Several processes may each
run one; a checkpoint already running elsewhere makes this one a no-op."""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

from shared.db.engine import sqlite_file

log = logging.getLogger(__name__)


def checkpointer_for(settings) -> WalCheckpointer:  # noqa: ANN001
    """The checkpointer of a process: the chat database (when it is SQLite) and the queue."""
    files = [path for path in (sqlite_file(settings.resolved_database_url), settings.resolved_queue_path) if path]
    return WalCheckpointer(files, interval_seconds=settings.wal_checkpoint_interval_ms / 1000)


class WalCheckpointer:
    def __init__(self, files: list[Path], *, interval_seconds: float, name: str = "chattrain-checkpoint"):
        self.files = files
        self.interval_seconds = interval_seconds
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
        """One PASSIVE checkpoint of every file: (busy, WAL frames, frames copied) each."""
        results = {}
        for path in self.files:
            conn = connections.get(path)
            if conn is None:
                if not path.exists():
                    continue
                conn = connections[path] = sqlite3.connect(path, timeout=0, isolation_level=None, check_same_thread=False)
            results[path] = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return results

    def _run(self) -> None:
        connections: dict[Path, sqlite3.Connection] = {}
        try:
            while not self._stopped.wait(self.interval_seconds):
                try:
                    self.checkpoint_once(connections)
                except sqlite3.Error as error:  # busy or locked: the next pass tries again
                    log.debug("WAL checkpoint skipped: %s", error)
        finally:
            for conn in connections.values():
                conn.close()
