"""Real servers for the main job, the tests and the benchmarks: OpenBao and PostgreSQL."""

from .environ import clean_environ
from .openbao import AuditRecord, OpenBaoServer, bao_binary, free_port
from .postgres import EmbeddedPostgres

__all__ = ["AuditRecord", "EmbeddedPostgres", "OpenBaoServer", "bao_binary", "clean_environ", "free_port"]
