"""The inventory file: the shipped example, resolution of hosts and groups, and named errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.settings import CONFIG_DIR, reset_settings
from tools.inventory import (DEFAULT_KNOWN_HOSTS, InventoryError, UnknownGroupError, UnknownHostError,
                             load_inventory)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "inventory.yaml"
    path.write_text(text)
    return path


def test_the_shipped_example_loads_with_host_key_checks_on() -> None:
    inventory = load_inventory(CONFIG_DIR / "inventory.yaml")
    assert inventory.hosts_in("web") == ["web1", "web2", "web3"]
    assert inventory.hosts_in("db") == ["db1"]
    assert inventory.defaults.insecure_skip_host_key_check is False
    db1 = inventory.target("db1")
    assert (db1.address, db1.port, db1.user, db1.insecure) == ("10.0.2.21", 22, "dba", False)
    assert db1.known_hosts == Path("~/.ssh/known_hosts").expanduser()
    assert inventory.target("web1").user == "ops"


def test_settings_choose_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "hosts: {only: {address: 192.0.2.1}}\n")
    monkeypatch.setenv("CLOUD_DOCTOR_INVENTORY_FILE", str(path))
    reset_settings()
    try:
        assert list(load_inventory().hosts) == ["only"]
    finally:
        monkeypatch.delenv("CLOUD_DOCTOR_INVENTORY_FILE")
        reset_settings()


def test_defaults_and_per_host_overrides(tmp_path: Path) -> None:
    inventory = load_inventory(write(tmp_path, """
defaults: {user: ops, port: 2200, key_file: /keys/ops, command_timeout: 5}
hosts:
  a: {address: 192.0.2.1}
  b: {address: 192.0.2.2, port: 22, user: admin, known_hosts: /etc/ssh/ssh_known_hosts, remote_timer: false}
groups: {all: [a, b]}
"""))
    a, b = inventory.target("a"), inventory.target("b")
    assert (a.port, a.user, a.key_file, a.command_timeout, a.remote_timer) == (2200, "ops", Path("/keys/ops"), 5, True)
    assert (b.port, b.user, b.known_hosts, b.remote_timer) == (22, "admin", Path("/etc/ssh/ssh_known_hosts"), False)
    assert a.known_hosts == DEFAULT_KNOWN_HOSTS.expanduser()
    assert inventory.target("a", known_hosts_fallback=Path("/srv/kh")).known_hosts == Path("/srv/kh")
    assert inventory.resolve(["b", "all"]) == ["b", "a"]
    assert inventory.resolve("a") == ["a"]
    assert inventory.hosts_in(None) == ["a", "b"]


def test_insecure_mode_is_only_by_name(tmp_path: Path) -> None:
    inventory = load_inventory(write(tmp_path, """
defaults: {insecure_skip_host_key_check: true}
hosts: {a: {address: 192.0.2.1}}
"""))
    assert inventory.target("a").insecure and inventory.target("a").known_hosts is None
    with pytest.raises(InventoryError, match="insecure"):
        load_inventory(write(tmp_path, "defaults: {insecure: true}\nhosts: {a: {address: 192.0.2.1}}\n"))


def test_unknown_names_are_named_errors(tmp_path: Path) -> None:
    inventory = load_inventory(write(tmp_path, "hosts: {a: {address: 192.0.2.1}}\ngroups: {web: [a]}\n"))
    with pytest.raises(UnknownHostError, match="'zz' is not in the inventory .*known hosts: a"):
        inventory.target("zz")
    with pytest.raises(UnknownGroupError, match="'db'.*groups: web"):
        inventory.hosts_in("db")
    with pytest.raises(UnknownGroupError):
        inventory.resolve(["a", "db"])


@pytest.mark.parametrize("text, where", [
    ("hosts: {a: {address: 192.0.2.1}}\ngroups: {web: [a, b]}\n", "not under `hosts`: b"),
    ("hosts: {a: {addr: 192.0.2.1}}\n", "hosts.a"),
    ("hosts: {a: {address: 'two words'}}\n", "without spaces"),
    ("defaults: {port: 70000}\n", "defaults.port"),
    ("hosts: {a: {address: 192.0.2.1}}\ngroups: {a: [a]}\n", "same name as a host"),
    ("log_sources: [syslog:/var/log/messages]\n", "log_sources"),
    ("hosts: [a, b]\n", "hosts"),
    ("- just\n- a list\n", "must be a mapping"),
    ("hosts: {a: {address: [\n", "not valid YAML"),
])
def test_invalid_files_say_where(tmp_path: Path, text: str, where: str) -> None:
    with pytest.raises(InventoryError, match="inventory file .*inventory.yaml") as raised:
        load_inventory(write(tmp_path, text))
    assert where in str(raised.value)


def test_missing_file_says_how_to_fix(tmp_path: Path) -> None:
    with pytest.raises(InventoryError, match="not found.*CLOUD_DOCTOR_INVENTORY_FILE"):
        load_inventory(tmp_path / "absent.yaml")
