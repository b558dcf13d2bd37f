from pathlib import Path

from vpnctl.probe.timer import install, quote, units


def test_quote_follows_systemd_rules() -> None:
    assert quote("/usr/bin/vpnctl") == "/usr/bin/vpnctl"
    assert quote("250,2%") == "250,2%%"
    assert quote("a b") == '"a b"'
    assert quote('say "hi"\\') == '"say \\"hi\\"\\\\"'
    assert quote("$HOME") == "$$HOME"


def test_units_run_the_command_every_minute() -> None:
    files = units(["/usr/bin/vpnctl", "probe", "/etc/vpnctl/topo.yaml", "--cloudwatch"])
    assert set(files) == {"vpnctl-probe.service", "vpnctl-probe.timer"}
    service, timer = files["vpnctl-probe.service"], files["vpnctl-probe.timer"]
    assert "ExecStart=/usr/bin/vpnctl probe /etc/vpnctl/topo.yaml --cloudwatch\n" in service
    assert "Type=oneshot" in service
    assert "OnUnitActiveSec=1min" in timer
    assert "WantedBy=timers.target" in timer


def test_install_writes_both(tmp_path: Path) -> None:
    written = install(units(["x"], every="30s"), tmp_path / "units")
    assert sorted(p.name for p in written) == ["vpnctl-probe.service", "vpnctl-probe.timer"]
    assert "OnUnitActiveSec=30s" in (tmp_path / "units" / "vpnctl-probe.timer").read_text()
