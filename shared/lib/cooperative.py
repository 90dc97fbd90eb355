"""Blocking system calls in a process that may run greenlets.

The worker runs its jobs as gevent greenlets on one thread. gevent makes sockets, locks
and sleeps cooperative, but a call that blocks in the kernel for another reason (an
`flock` waiting for another process) would stop every greenlet of the process. Such a
call goes through `blocking_call`: under gevent it runs on the hub's thread pool, so only
the calling greenlet waits; elsewhere (the web process, tests) it is a plain call."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def blocking_call(fn: Callable[..., T], *args: Any) -> T:
    monkey = sys.modules.get("gevent.monkey")
    if monkey is not None and monkey.is_module_patched("threading"):
        import gevent

        return gevent.get_hub().threadpool.apply(fn, args)
    return fn(*args)
