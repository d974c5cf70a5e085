"""An embedded PostgreSQL on a free loopback TCP port, from the ``pgserver`` package.

pgserver ships PostgreSQL's binaries; we run ``initdb`` and ``pg_ctl`` ourselves so that
the server listens on 127.0.0.1 with password authentication, the way OpenBao's database
engine and real pipelines connect. As root, PostgreSQL refuses to run, so the server runs
as an unprivileged system user (``pgserver``, created if missing, as pgserver itself does).
"""

from __future__ import annotations

import os
import pwd
import subprocess
import tempfile
import warnings
from pathlib import Path

from ..secret import Secret
from .openbao import free_port


def _bin_dir() -> Path:
    try:
        with warnings.catch_warnings():  # pgserver's import warns about XDG_RUNTIME_DIR
            warnings.simplefilter("ignore")
            from pgserver._commands import POSTGRES_BIN_PATH
    except ImportError as exc:
        raise FileNotFoundError(
            "the embedded PostgreSQL is not installed: pip install pgserver "
            "(or pip install 'dlt-vault-provider[embedded]')"
        ) from exc
    return Path(POSTGRES_BIN_PATH)


class EmbeddedPostgres:
    """A throwaway PostgreSQL cluster: ``start()``, ``url()``, ``stop()``."""

    superuser = "postgres"

    def __init__(self, workdir: Path | str | None = None, *, password: str = "") -> None:
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="dlt-vault-pg-"))
        self.data = self.workdir / "pgdata"
        self.host = "127.0.0.1"
        self.port = free_port()
        self._password = Secret(password or os.urandom(12).hex())
        self._user: str | None = None

    @property
    def password(self) -> Secret:
        return self._password

    def __repr__(self) -> str:
        return f"EmbeddedPostgres(host={self.host!r}, port={self.port})"

    def __enter__(self) -> EmbeddedPostgres:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        bins = _bin_dir()
        if os.geteuid() == 0:
            self._user = self._system_user()
            self._open_for(bins)
        self.workdir.mkdir(parents=True, exist_ok=True)
        pwfile = self.workdir / "pwfile"
        pwfile.write_text(self._password.reveal() + "\n", encoding="utf-8")
        if self._user:
            entry = pwd.getpwnam(self._user)
            _open_prefix(self.workdir)
            for path in (self.workdir, pwfile):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        try:
            if not (self.data / "PG_VERSION").exists():
                self._run(
                    bins / "initdb",
                    "-D",
                    str(self.data),
                    "-U",
                    self.superuser,
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                    f"--pwfile={pwfile}",
                    "--encoding=UTF8",
                    "--no-instructions",
                )
        finally:
            pwfile.unlink(missing_ok=True)
        options = f"-h {self.host} -p {self.port} -k {self.workdir}"
        self._run(
            bins / "pg_ctl",
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.workdir / "postgres.log"),
            "-w",
            "-t",
            "60",
            "start",
        )

    def stop(self) -> None:
        if not (self.data / "postmaster.pid").exists():
            return
        self._run(_bin_dir() / "pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop", check=False)

    def url(
        self, database: str = "postgres", user: str | None = None, password: Secret | None = None
    ) -> Secret:
        """A libpq URL for this server; a ``Secret``, since it holds the password."""
        from urllib.parse import quote

        secret = (password or self._password).reveal()
        return Secret(
            f"postgresql://{quote(user or self.superuser, safe='')}:"
            f"{quote(secret, safe='')}@{self.host}:{self.port}/{database}"
        )

    def _run(self, *command: object, check: bool = True) -> None:
        # Drop the group too: with root's group kept, a 0700 root folder stays closed to it.
        drop = {"user": self._user, "group": self._user, "extra_groups": []} if self._user else {}
        result = subprocess.run(
            [str(c) for c in command], capture_output=True, text=True, timeout=120, **drop
        )
        if check and result.returncode != 0:
            logfile = self.workdir / "postgres.log"
            tail = logfile.read_text(errors="replace")[-2000:] if logfile.exists() else ""
            raise RuntimeError(
                f"{Path(str(command[0])).name} failed ({result.returncode}): "
                f"{result.stderr.strip()[-2000:]}\n{tail}"
            )

    @staticmethod
    def _system_user() -> str:
        name = "pgserver"
        try:
            pwd.getpwnam(name)
        except KeyError:
            subprocess.run(
                ["useradd", "--system", "--no-create-home", "-s", "/usr/sbin/nologin", name],
                check=True,
                capture_output=True,
            )
        return name

    def _open_for(self, bins: Path) -> None:
        """Let the unprivileged user reach the binaries and libraries (as pgserver does)."""
        for folder in (bins, bins.parent / "lib", bins.parent / "share"):
            _open_prefix(folder)
        for root in (bins.parent / "lib", bins.parent / "share", bins):
            for dirpath, dirnames, filenames in os.walk(root):
                for name in dirnames + filenames:
                    target = Path(dirpath) / name
                    mode = target.stat().st_mode
                    wanted = mode | 0o004 | (0o001 if mode & 0o100 or target.is_dir() else 0)
                    if wanted != mode:
                        target.chmod(wanted)


def _open_prefix(folder: Path) -> None:
    """Make ``folder`` and every folder above it traversable by other users."""
    path = folder.resolve()
    while path != path.parent:
        mode = path.stat().st_mode
        if mode & 0o005 != 0o005:
            path.chmod(mode | 0o005)
        path = path.parent
