"""A fault-injecting TCP proxy for tests: loopback only, between clients and OpenBao.

Modes: ``pass`` (relay), ``slow`` (relay the answer after ``latency`` seconds), ``stall``
(read the request, never answer), ``drip`` (relay the answer one byte at a time, slowly),
``reset`` (read the request, then reset the connection), ``cut`` (relay half of the answer,
then reset: a connection dropped mid-response), ``http503`` / ``http429`` (answer that
status at once), ``down`` (accept and close at once). ``connections`` counts what reached
the proxy, per mode; ``arrivals`` when.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections import Counter

from dlt_vault_provider.devservers import free_port

SCHEDULING_SLACK = 2.0
"""Seconds a call may end past its deadline in a test: thread scheduling on a busy shared
machine, not Vault. A hang would be many times this."""


class FaultProxy:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self.address = f"http://127.0.0.1:{self.port}"
        self._mode = "pass"
        self._live: set[socket.socket] = set()
        self._live_lock = threading.Lock()
        self.drip_interval = 0.2
        self.latency = 0.5
        self.connections: Counter[str] = Counter()
        self.arrivals: list[float] = []  # time.monotonic() of each connection, any mode
        self._stop = threading.Event()
        self._server = socket.create_server(("127.0.0.1", self.port))
        self._server.settimeout(0.2)
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)

    @property
    def mode(self) -> str:
        return self._mode

    @mode.setter
    def mode(self, mode: str) -> None:
        """Switch faults; open (keep-alive) connections are cut, so the next request sees it."""
        self._mode = mode
        with self._live_lock:
            live, self._live = self._live, set()
        for sock in live:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self._server.close()

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._server.accept()
            except (TimeoutError, OSError):
                continue
            mode = self._mode
            self.connections[mode] += 1
            self.arrivals.append(time.monotonic())
            with self._live_lock:
                self._live.add(client)
            threading.Thread(target=self._handle, args=(client, mode), daemon=True).start()

    def _handle(self, client: socket.socket, mode: str) -> None:
        try:
            if mode == "down":
                return
            if mode == "pass":
                self._relay(client)
                return
            client.settimeout(5)
            request = client.recv(65536)
            if mode == "stall":
                self._stop.wait(60)
            elif mode == "reset":
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            elif mode in ("http503", "http429"):
                status = "503 Service Unavailable" if mode == "http503" else "429 Too Many Requests"
                body = b'{"errors":["injected fault"]}'
                client.sendall(
                    f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                    + body
                )
            elif mode == "drip":
                answer = self._answer(request)
                for i in range(len(answer)):
                    if self._stop.is_set():
                        return
                    client.sendall(answer[i : i + 1])
                    time.sleep(self.drip_interval)
            elif mode == "slow":
                answer = self._answer(request)
                if not self._stop.wait(self.latency):
                    client.sendall(answer)
            elif mode == "cut":
                answer = self._answer(request)
                client.sendall(answer[: len(answer) // 2])
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        finally:
            client.close()

    def _answer(self, request: bytes) -> bytes:
        """Vault's whole answer to one request (the connection is closed after it)."""
        with socket.create_connection(self.target, timeout=5) as upstream:
            upstream.sendall(request)
            answer = b""
            upstream.settimeout(1)
            try:
                while chunk := upstream.recv(65536):
                    answer += chunk
                    if _complete(answer):
                        break
            except TimeoutError:
                pass
        return answer

    def _relay(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            return

        def pipe(src: socket.socket, dst: socket.socket) -> None:
            try:
                while chunk := src.recv(65536):
                    dst.sendall(chunk)
            except OSError:
                pass
            finally:
                for s in (src, dst):
                    with contextlib.suppress(OSError):
                        s.shutdown(socket.SHUT_RDWR)

        back = threading.Thread(target=pipe, args=(upstream, client), daemon=True)
        back.start()
        pipe(client, upstream)
        back.join(5)
        upstream.close()


def _complete(answer: bytes) -> bool:
    """An HTTP answer with its whole body (by Content-Length; else wait for the close)."""
    head, found, body = answer.partition(b"\r\n\r\n")
    if not found:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value.strip())
    return head.split(b" ", 2)[1:2] in ([b"204"], [b"304"])
