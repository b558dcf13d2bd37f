"""What a new user meets at the edges of the command line: one-line errors with the right exit
status, the one rule for a declined prompt, the static command table, --release and --frozen.

None of these needs AWS: each stops (or is stopped) before the first call.
"""

from __future__ import annotations

import importlib
import json
import shutil
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from tests.unit.probe.fakes import report, result
from vpnctl import pipeline
from vpnctl.cli import COMMANDS, DEBUG_HINT, cli
from vpnctl.errors import AwsError

TOPOLOGIES = Path(__file__).parents[2] / "topologies"


def run(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), input=stdin)


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    path = tmp_path / "demo.yaml"
    shutil.copy(TOPOLOGIES / "demo.yaml", path)
    return path


def one_line_error(res: Result) -> str:
    assert "Traceback" not in res.output
    lines = [line for line in res.output.splitlines() if line.strip()]
    assert lines, "said nothing"
    return lines[-1]


# ------------------------------------------------------------------ the one exit point


def test_an_unexpected_error_is_one_line_with_the_debug_hint(
    demo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_a: object, **_k: object) -> None:
        raise RuntimeError("the allocator fell over\nin two lines")

    monkeypatch.setattr(pipeline, "plan", broken)
    res = run("plan", str(demo))
    assert res.exit_code == 1
    assert one_line_error(res) == (
        f"vpnctl: internal error: RuntimeError: the allocator fell over in two lines ({DEBUG_HINT})"
    )
    debug = run("--debug", "plan", str(demo))
    assert isinstance(debug.exception, RuntimeError)  # --debug lets the traceback through


def test_failover_run_with_a_missing_event_file_exits_2(demo: Path, tmp_path: Path) -> None:
    res = run("failover", str(demo), "--event", str(tmp_path / "nope.json"))
    assert res.exit_code == 2, res.output
    assert "nope.json: cannot read the event (No such file or directory)" in one_line_error(res)


def test_failover_package_into_a_missing_directory_exits_2(demo: Path, tmp_path: Path) -> None:
    out = tmp_path / "missing-dir" / "hook.zip"
    res = run("failover", "package", str(demo), "--out", str(out))
    assert res.exit_code == 2, res.output
    assert f"no directory {out.parent} to write it in" in one_line_error(res)


@pytest.mark.parametrize("url", ["not-a-url", "ftp://127.0.0.1", "http://"])
def test_apply_with_an_endpoint_that_is_no_url_exits_2(demo: Path, url: str) -> None:
    res = run("apply", str(demo), "--dry-run", "--endpoint-url", url)
    assert res.exit_code == 2, res.output
    assert "is not an http:// or https:// URL with a host" in res.output
    assert "Traceback" not in res.output


def test_lab_up_with_a_bad_impairment_exits_2_before_building(demo: Path) -> None:
    res = run("lab", "up", str(demo), "--impair", "bogus")
    assert res.exit_code == 2, res.output
    assert "--impair bogus: expected TARGET:loss=N%,delay=Nms" in res.output
    assert "Traceback" not in res.output


def test_a_garbled_aws_reply_becomes_an_aws_error() -> None:
    from botocore.parsers import ResponseParserError

    from vpnctl.aws.door import Door
    from vpnctl.aws.door.wire import ONCE, BotoWire, Given

    class Garbled:
        def delete_route(self, **_kw: object) -> None:
            raise ResponseParserError("Unable to parse response (not well-formed), invalid XML")

    door = Door(BotoWire(Given({"ec2": Garbled()}, "us-west-2"), ONCE))
    with pytest.raises(AwsError) as caught:
        door.at("main", "us-west-2", "route rt-a").ec2.delete_route("rtb-1", "10.0.0.0/16")
    assert str(caught.value).startswith("account main, region us-west-2, route rt-a: unreadable")


def test_probe_publishing_without_a_region_still_prints_the_measurement(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from vpnctl.probe import prober

    for name in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    measured = report(result("127.0.0.1", [0.2] * 3))
    monkeypatch.setattr(prober, "probe", lambda *_a, **_k: measured)
    args = [
        "probe",
        "--target",
        "127.0.0.1",
        "--cloudwatch",
        "--endpoint-url",
        "http://127.0.0.1:9",
    ]
    res = run(*args, "--format", "json")
    assert res.exit_code == 2, res.output
    assert json.loads(res.stdout)["results"][0]["target"] == "127.0.0.1"
    assert res.stderr.strip() == (
        "--cloudwatch needs a region: give --region REGION or set AWS_DEFAULT_REGION"
    )


def test_probe_on_a_machine_that_is_no_gateway_is_not_a_topology_error(
    demo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vpnctl.probe import targets

    assert run("plan", str(demo)).exit_code == 0
    monkeypatch.setattr(targets, "local_addresses", lambda: frozenset())
    res = run("probe", str(demo))
    assert res.exit_code == 2, res.output
    message = one_line_error(res)
    assert message.startswith("cannot tell which gateway this is"), message
    assert f"{demo}:" not in message


# ------------------------------------------------------------------ --frozen and the lock


def test_probe_and_keys_rotate_never_blame_a_frozen_flag_they_were_not_given(
    demo: Path,
) -> None:
    for args in (["probe", str(demo)], ["keys", "rotate", str(demo), "--link", "a--b", "-y"]):
        res = run(*args)
        assert res.exit_code == 1, res.output
        assert "--frozen" not in res.output
        assert "does not match" in res.output
        assert f"run `vpnctl plan {demo}`" in res.output
    assert not demo.with_name("demo.lock.json").exists()


# ------------------------------------------------------------------ declining


def test_declining_keys_rotate_says_nothing_changed_and_exits_1(demo: Path) -> None:
    assert run("plan", str(demo)).exit_code == 0
    res = run("keys", "rotate", str(demo), "--link", "eu-west-1--us-west-2", stdin="n\n")
    assert res.exit_code == 1, res.output
    assert one_line_error(res) == "Nothing changed."


def test_no_answer_at_all_counts_as_no(demo: Path) -> None:
    assert run("plan", str(demo)).exit_code == 0
    res = run("keys", "rotate", str(demo), "--link", "eu-west-1--us-west-2", stdin="")
    assert res.exit_code == 1, res.output
    assert one_line_error(res) == "Nothing changed."
    assert "Aborted" not in res.output


# ------------------------------------------------------------------ plan --release


def test_release_of_an_unknown_vpc_exits_2_naming_the_file(demo: Path) -> None:
    assert run("plan", str(demo)).exit_code == 0
    lock = demo.with_name("demo.lock.json")
    before = lock.read_text()
    res = run("plan", str(demo), "--release", "nope")
    assert res.exit_code == 2, res.output
    assert res.output.startswith(f"{demo}:")
    assert ": vpcs: --release nope: no VPC nope here or in the lock file" in res.output
    assert lock.read_text() == before


def test_release_gives_fresh_addresses(demo: Path) -> None:
    assert run("plan", str(demo)).exit_code == 0
    lock = demo.with_name("demo.lock.json")

    def cidrs() -> dict[str, str]:
        return {n: v["cidr"] for n, v in json.loads(lock.read_text())["vpcs"].items()}

    before = cidrs()
    assert run("plan", str(demo), "--release", "us-west-2").exit_code == 0
    after = cidrs()
    assert after["us-west-2"] != before["us-west-2"]
    assert after["eu-west-1"] == before["eu-west-1"]


# ------------------------------------------------------------------ the command table


@pytest.mark.parametrize("columns", [40, 52, 60, 79, 80, 81, 200])
def test_the_fast_help_is_what_click_prints(columns: int) -> None:
    from vpnctl import commands

    res = CliRunner().invoke(
        cli, ["--help"], prog_name="vpnctl", terminal_width=commands.width(columns)
    )
    assert res.exit_code == 0, res.output
    assert commands.root_help(columns) == res.output


def test_help_lists_every_command_with_its_own_first_line() -> None:
    res = run("--help")
    assert res.exit_code == 0
    for name, entry in COMMANDS.items():
        module, _, attribute = entry.target.partition(":")
        command = getattr(importlib.import_module(module), attribute)
        assert isinstance(command, click.Command)
        first = (command.help or "").strip().splitlines()[0]
        assert entry.help == first, f"COMMANDS[{name!r}] says {entry.help!r}, the command {first!r}"
        assert name in res.output
