"""Real servers for the main job, the tests and the benchmarks: OpenBao and PostgreSQL."""

from .openbao import AuditRecord, OpenBaoServer, bao_binary, free_port
from .postgres import EmbeddedPostgres

__all__ = ["AuditRecord", "EmbeddedPostgres", "OpenBaoServer", "bao_binary", "free_port"]
