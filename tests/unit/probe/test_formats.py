import json
import re
from dataclasses import replace
from ipaddress import IPv4Address

from tests.unit.probe.fakes import golden, report, result
from vpnctl.probe import formats
from vpnctl.probe.health import Health
from vpnctl.probe.report import Report, Target, unmeasured
from vpnctl.probe.verdict import Status

LINK = "ap-southeast-1--us-west-2"


def mixed() -> Report:
    ok = result(
        "169.254.64.2", [101.2, 104.9, 130.0, 141.7, 99.0] * 4, link=LINK, gateway="gw-us-west-2-a"
    )
    lossy = result("10.65.0.10", [20.0] * 19 + [None], link=LINK, gateway="gw-us-west-2-a")
    dead = result("10.0.0.9", [None] * 20)
    ok = replace(ok, health=Health("UP", 0, 7, 1_699_999_000.0))
    lossy = replace(lossy, health=Health("DOWN", 3, 0, 1_699_999_900.0))
    return report(ok, lossy, dead)


def test_nagios_golden() -> None:
    golden("nagios.txt", formats.to_nagios(mixed()))


def test_prometheus_golden() -> None:
    golden("prometheus.prom", formats.to_prometheus(mixed()))


PERF = re.compile(
    r"^'(?:[^'=]|'')+'=(?:U|-?[0-9.]+(?:ms|%|s|B|c)?);[0-9.]*;[0-9.]*;[0-9.]*;[0-9.]*$"
)


def test_nagios_perfdata_is_plugin_syntax() -> None:
    head = formats.to_nagios(mixed()).splitlines()[0]
    status, _, perfdata = head.partition(" | ")
    assert status.startswith("PROBE CRITICAL - 3 targets: 1 ok, 1 warning, 1 critical")
    for item in perfdata.split(" '"):
        item = item if item.startswith("'") else "'" + item
        assert PERF.match(item), item


def test_nagios_labels_quote_quotes_and_drop_equals() -> None:
    odd = replace(result("10.0.0.1", [1.0]), target=Target(IPv4Address("10.0.0.1"), host="a'b=c"))
    head = formats.to_nagios(report(odd)).splitlines()[0]
    assert "'a''b_c rtt'=1ms;250;600;0;" in head


def test_nagios_unmeasured_value_is_U() -> None:
    rep = replace(report(), results=unmeasured([Target(IPv4Address("10.0.0.1"))], "no socket"))
    text = formats.to_nagios(rep)
    assert text.startswith("PROBE UNKNOWN - 1 target: 1 unknown; 10.0.0.1 UNKNOWN: no socket")
    assert "'10.0.0.1 rtt'=U;250;600;0;" in text


def test_json_keeps_the_promised_keys() -> None:
    document = json.loads(formats.to_json(mixed()))
    first = document["results"][0]
    assert first["target"] == "169.254.64.2"
    assert (first["link"], first["gateway"]) == (LINK, "gw-us-west-2-a")
    assert (first["sent"], first["received"], first["loss_pct"]) == (20, 20, 0.0)
    assert set(first["rtt_ms"]) == {"min", "median", "p95", "max", "mean"}
    assert first["status"] == "OK"
    assert first["health"]["state"] == "UP"
    assert document["results"][1]["health"]["consecutive_failures"] == 3
    dead = document["results"][2]
    assert dead["rtt_ms"] is None
    assert dead["loss_pct"] == 100.0
    assert dead["link"] is None
    assert dead["status"] == "CRITICAL"
    assert document["status"] == "CRITICAL"


def test_json_unmeasured_has_null_loss() -> None:
    rep = replace(report(), results=unmeasured([Target(IPv4Address("10.0.0.1"))], "why"))
    (entry,) = json.loads(formats.to_json(rep))["results"]
    assert (entry["status"], entry["loss_pct"], entry["reason"]) == ("UNKNOWN", None, "why")


def test_text_has_a_row_per_target_and_the_socket() -> None:
    lines = formats.to_text(mixed()).splitlines()
    assert lines[0].split()[:3] == ["TARGET", "SENT", "RECV"]
    assert lines[3].split()[0] == "10.0.0.9"
    assert "CRITICAL" in lines[3]
    assert lines[-1] == "RTT in ms; socket: raw"


def test_text_warns_when_the_prober_lags() -> None:
    rep = mixed()
    assert rep.lag is not None
    slow = replace(rep, lag=replace(rep.lag, p95=40.0))
    assert "overloaded" in formats.to_text(slow)
    assert "overloaded" not in formats.to_text(rep)


def test_prometheus_samples_parse() -> None:
    sample = re.compile(r'^[a-z_]+(\{([a-z]+="[^"]*",?)+\})? [-0-9.e+]+$')
    for line in formats.to_prometheus(mixed()).splitlines():
        assert line.startswith("# ") or sample.match(line), line


def test_prometheus_omits_rtt_when_nothing_came_back() -> None:
    text = formats.to_prometheus(report(result("10.0.0.9", [None] * 3)))
    assert "vpnctl_probe_rtt_seconds" not in text
    assert 'vpnctl_probe_loss_ratio{target="10.0.0.9",link="",gateway=""} 1' in text


def test_status_values_are_plugin_exit_codes() -> None:
    assert [s.value for s in Status] == [0, 1, 2, 3]


def test_prometheus_last_run_keeps_milliseconds() -> None:
    # a Unix time has 10 digits before the point: 9 significant digits would round it to 10 s
    text = formats.to_prometheus(report(started_at=1_700_000_004.567))
    assert "vpnctl_probe_last_run_timestamp_seconds 1700000004.567\n" in text
