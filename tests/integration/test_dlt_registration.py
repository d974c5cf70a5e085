"""How the provider gets into dlt: by the plugin when Vault is configured, by
``register()`` on request, and not at all when nothing is configured."""

import subprocess
import sys

import pytest

from dlt_vault_provider import DatabaseSecret
from dlt_vault_provider.devservers import clean_environ

pytestmark = pytest.mark.integration

PROBE = """
import dlt
from dlt.common.configuration.container import Container
from dlt.common.configuration.specs.pluggable_run_context import PluggableRunContext
names = lambda: [p.name for p in Container()[PluggableRunContext].providers.providers]
print("before", names())
Container()[PluggableRunContext].reload_providers()
print("after", names())
{extra}
"""


def probe(tmp_path, env_extra, extra=""):
    env = clean_environ(HOME=str(tmp_path), **env_extra)
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(extra=extra)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_nothing_configured_changes_nothing(tmp_path):
    out = probe(tmp_path, {})
    assert "Vault catalog" not in out


def test_vault_addr_alone_installs_the_provider_and_it_survives_a_reload(bao, tmp_path):
    out = probe(tmp_path, {"VAULT_ADDR": bao.address, "VAULT_TOKEN": bao.root_token.reveal()})
    before, after = out.splitlines()[:2]
    assert "Vault catalog" in before and "Vault catalog" in after


def test_a_vault_section_in_config_toml_installs_it(bao, tmp_path):
    (tmp_path / ".dlt").mkdir()
    (tmp_path / ".dlt" / "config.toml").write_text(f'[vault]\nurl = "{bao.address}"\n')
    out = probe(tmp_path, {"VAULT_TOKEN": bao.root_token.reveal()})
    assert "Vault catalog" in out.splitlines()[0]


def test_explicit_register(bao, store, tmp_path, workspace, canary):
    canary("register-pw-1")
    store.put(
        "orders",
        DatabaseSecret(engine="postgresql", host="h", username="u", password="register-pw-1"),
        expected_version=0,
    )
    extra = f"""
from dlt_vault_provider import register, VaultCatalogProvider, CatalogResolver, CatalogStore
from dlt_vault_provider import VaultSession, VaultSettings
session = VaultSession(VaultSettings(url="{bao.address}", token="{bao.root_token.reveal()}"))
store = CatalogStore(session, workspace="{workspace}")
register(VaultCatalogProvider(CatalogResolver(store)))
print("registered", names())
print("served", dlt.secrets["sources.orders.credentials"].endswith("@h:5432"))
"""
    out = probe(tmp_path, {}, extra)
    assert "Vault catalog" in out.splitlines()[2] and "served True" in out
