"""A hard deadline for one HTTP attempt: its socket is cut when the call's time is up.

Socket timeouts bound each ``recv``, not an answer: a server that drips its status line,
headers or body a byte at a time stays under any per-read timeout forever, and Python's
buffered reads wait for whole lengths. So every attempt is watched: the connection it
uses registers itself when the request starts, and one watchdog thread shuts that socket
down at the deadline, which ends the blocked read at once (the caller then sees a
transport error and reports Vault unavailable).
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

_current = threading.local()  # the attempt running in this thread, if any


class Attempt:
    """One attempt's connection, and whether the watchdog cut it."""

    def __init__(self) -> None:
        self.connection: HTTPConnection | None = None
        self.done = False
        self.expired = False
        self._lock = threading.Lock()

    def cut(self) -> None:
        with self._lock:
            if self.done:
                return
            self.expired = True
            sock = getattr(self.connection, "sock", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def finish(self) -> None:
        with self._lock:
            self.done = True
            self.connection = None  # the watchdog may hold this until its deadline: not the socket


class _Watchdog:
    """One daemon thread for the whole process, waking at the next attempt's deadline."""

    def __init__(self) -> None:
        self._due: list[tuple[float, int, Attempt]] = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def watch(self, attempt: Attempt, at: float) -> None:
        with self._wake:
            heapq.heappush(self._due, (at, next(self._order), attempt))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="vault-deadline", daemon=True)
                self._thread.start()
            if self._due[0][2] is attempt:  # only a new earliest deadline changes its sleep
                self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._due:
                    self._wake.wait()
                at, _, attempt = self._due[0]
                now = time.monotonic()
                if now < at and not attempt.done:
                    self._wake.wait(at - now)
                    continue
                heapq.heappop(self._due)
            if not attempt.done:
                attempt.cut()


_watchdog = _Watchdog()


@contextlib.contextmanager
def attempt_within(seconds: float) -> Iterator[Attempt]:
    """Run one HTTP attempt in this block; its socket is cut ``seconds`` from now."""
    attempt = Attempt()
    _current.attempt = attempt
    _watchdog.watch(attempt, time.monotonic() + max(0.0, seconds))
    try:
        yield attempt
    finally:
        attempt.finish()
        _current.attempt = None


def _register(connection: HTTPConnection) -> None:
    attempt = getattr(_current, "attempt", None)
    if attempt is not None:
        attempt.connection = connection
        if attempt.expired:  # the time was up before the request even started
            attempt.cut()


class _WatchedHTTPConnection(HTTPConnection):
    def request(self, *args: Any, **kwargs: Any) -> None:
        _register(self)
        super().request(*args, **kwargs)


class _WatchedHTTPSConnection(HTTPSConnection):
    def request(self, *args: Any, **kwargs: Any) -> None:
        _register(self)
        super().request(*args, **kwargs)


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class DeadlineAdapter(HTTPAdapter):
    """``requests`` transport whose connections can be cut by ``attempt_within``."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}
