"""Keeping the SQLite files in memory through a quiet minute.

Some hosts reclaim file cache that has gone unused for a while even with memory to
spare. The reference machine does (DAMON `pageout`, applied to file pages that no
process maps once they have been idle for 60 s). After a quiet minute the first
message's transactions then read the database's and the log's pages back from disk,
and each commit first reads the partly written page of the log it appends to. Measured
on the first reply after 60 s idle, those reads cost about a millisecond.

That reclaim spares pages that some process maps. So the worker maps each SQLite file and its write-ahead log read-only and has the kernel
fill the mapping (MADV_POPULATE_READ, Linux 5.14 and later), which reads nothing once
the pages are cached. A file that grows has its new pages filled at the next look; a
file that is replaced is mapped again; the whole mapping is filled again now and then
in case the kernel dropped pages under real memory pressure. Nothing reads through the
mapping: filling it is what keeps the pages.

ctypes rather than Python's mmap module: an `mmap.mmap` keeps a duplicate of the file's
descriptor and closes it with the map, and closing any descriptor of a file drops the
POSIX locks that the process's SQLite connections hold on it (see checkpoint.py). Here
a database file's descriptor stays open for the life of the process.

The mapped pages count in the worker's RSS (as shared file pages, not memory of its
own); `max_bytes` caps each file's share."""

from __future__ import annotations

import ctypes
import errno
import logging
import mmap
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

MADV_POPULATE_READ = 22  # linux/mman.h
# How often a mapping that did not grow is filled again.
REFILL_SECONDS = 60.0


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
    libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    return libc


_MAP_FAILED = ctypes.c_void_p(-1).value


def _pages(size: int) -> int:
    """`size` rounded up to whole pages (a file's last page counts, partly written or not)."""
    return -(-size // mmap.PAGESIZE) * mmap.PAGESIZE


@dataclass
class _Mapping:
    inode: tuple[int, int]
    address: int
    length: int  # the window mapped: max_bytes, whatever the file's size
    filled: int = 0  # bytes from the start known to be filled
    filled_at: float = 0.0


class ResidentFiles:
    """Keeps `files` and their `-wal` logs mapped and filled, up to `max_bytes` of each.
    Call `refresh()` from one thread, every few seconds."""

    def __init__(self, files: list[Path], *, max_bytes: int):
        self.paths = [path for file in files for path in (Path(file), Path(f"{file}-wal"))]
        self.max_bytes = max_bytes
        self._libc = _libc() if max_bytes > 0 else None
        self._maps: dict[Path, _Mapping] = {}
        self._descriptors: dict[tuple[int, int], int] = {}  # never closed, see the module docstring
        self._warned = False

    @property
    def enabled(self) -> bool:
        return self._libc is not None

    def refresh(self) -> None:
        for path in self.paths:
            if self._libc is None:
                return
            try:
                self._refresh(path)
            except OSError as error:
                # Once at WARNING (a limit on address space, say, would keep failing),
                # then quietly: a file that shrank under a fill is mapped again next time.
                log.log(logging.DEBUG if self._warned else logging.WARNING, "keeping %s mapped failed: %s", path, error)
                self._warned = True
                self._unmap(path)

    def close(self) -> None:
        for path in list(self._maps):
            self._unmap(path)

    def _refresh(self, path: Path) -> None:
        try:
            stat = os.stat(path)
        except FileNotFoundError:
            self._unmap(path)
            return
        inode = (stat.st_dev, stat.st_ino)
        mapping = self._maps.get(path)
        if mapping is not None and mapping.inode != inode:
            self._unmap(path)  # the file was replaced (a log deleted and made again)
            mapping = None
        if mapping is None:
            mapping = self._maps[path] = self._map(path, inode)
        size = min(_pages(stat.st_size), mapping.length)
        now = time.monotonic()
        if size < mapping.filled or now - mapping.filled_at >= REFILL_SECONDS:
            mapping.filled = 0  # shrunk, or due for a full fill
        if size > mapping.filled:
            self._fill(path, mapping, mapping.filled, size)
            if mapping.filled == 0:
                mapping.filled_at = now
            mapping.filled = size

    def _map(self, path: Path, inode: tuple[int, int]) -> _Mapping:
        # SQLite locks the database file, not its log: a log's descriptor may be closed
        # once mapped (the mapping keeps the file), a database's never (even a second one
        # of the same file: the locks are the process's, whichever descriptor took them).
        is_log = path.name.endswith("-wal")
        fd = None if is_log else self._descriptors.get(inode)
        if fd is None:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            opened = os.fstat(fd)
            inode = (opened.st_dev, opened.st_ino)  # the file opened, should the path have been replaced since the stat
            if not is_log:
                self._descriptors.setdefault(inode, fd)
        # The window is max_bytes however small the file is now (address space only), so
        # a growing log needs no new mapping, only its new pages filled.
        length = _pages(self.max_bytes)
        try:
            address = self._libc.mmap(None, length, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)
        finally:
            if is_log:
                os.close(fd)
        if address in (None, _MAP_FAILED):
            raise OSError(ctypes.get_errno(), f"mmap failed: {os.strerror(ctypes.get_errno())}")
        return _Mapping(inode=inode, address=address, length=length)

    def _fill(self, path: Path, mapping: _Mapping, start: int, end: int) -> None:
        if self._libc.madvise(mapping.address + start, end - start, MADV_POPULATE_READ) == 0:
            return
        code = ctypes.get_errno()
        if code in (errno.EINVAL, errno.ENOSYS):  # a kernel older than 5.14: nothing to do here
            log.info("this kernel cannot fill mappings (MADV_POPULATE_READ); SQLite files are not kept mapped")
            self.close()
            self._libc = None
            return
        # EFAULT: the file shrank under the fill (the next look maps what is there).
        raise OSError(code, f"filling the mapping failed: {os.strerror(code)}")

    def _unmap(self, path: Path) -> None:
        mapping = self._maps.pop(path, None)
        if mapping is not None and self._libc is not None:
            self._libc.munmap(mapping.address, mapping.length)
