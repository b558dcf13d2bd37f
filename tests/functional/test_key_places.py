"""Where apply stores a tunnel's keys, on a moto server: each region only its own gateways'
pieces, coherent across the two regions, also after an apply killed between them, and the far
ends' pieces an older apply left in a region swept."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509

from tests.functional.conftest import ROOT, Aws, fast
from vpnctl import keys, pipeline
from vpnctl.aws import keyversions
from vpnctl.aws.session import Call
from vpnctl.cli.apply import apply
from vpnctl.cli.keys import keys as keys_cli
from vpnctl.cli.unlock import unlock

REGIONS = ("eu-west-1", "us-west-2")
PREFIX = "/vpnctl/demo"


class Interrupted(Exception):
    pass


@pytest.fixture
def demo(aws: Aws) -> Path:
    text = (ROOT / "topologies" / "demo.yaml").read_text() + "\ntunnel:\n  mode: fingerprint\n"
    return aws.topology("demo", text)


def held(aws: Aws, region: str) -> dict[str, tuple[str, str]]:
    """Name -> (value, key version) of every parameter of the topology in the region."""
    ssm = aws.client("ssm", region)
    found: dict[str, tuple[str, str]] = {}
    for page in ssm.get_paginator("describe_parameters").paginate(
        ParameterFilters=[{"Key": "Path", "Option": "Recursive", "Values": [PREFIX]}]
    ):
        for p in page["Parameters"]:
            value = ssm.get_parameter(Name=p["Name"], WithDecryption=True)["Parameter"]["Value"]
            found[p["Name"]] = (value, keyversions.parse(p.get("Description")))
    return found


def assert_coherent(aws: Aws, path: Path) -> None:
    """Each region holds exactly its gateways' pieces; each end pins the far end's certificate
    and shares its tls-crypt key; both ends record one version of the set."""
    design = pipeline.plan(path).design
    stored = {r: held(aws, r) for r in REGIONS}
    region_of = {g.name: g.region for g in design.gateways}
    wanted = {r: {n for t in design.tunnels for e in t.ends() if region_of[e.gateway] == r
                  for n in keys.parameter_names("demo", t, {e.gateway})} for r in REGIONS}  # fmt: skip
    assert {r: set(s) for r, s in stored.items()} == wanted
    for tunnel in design.tunnels:
        near, far = (e.gateway for e in tunnel.ends())

        def piece(gateway: str, what: str, tunnel: str = tunnel.name) -> str:
            return stored[region_of[gateway]][f"{PREFIX}/{tunnel}/{gateway}/{what}"][0]

        for me, other in ((near, far), (far, near)):
            cert = x509.load_pem_x509_certificate(piece(other, "cert").encode())
            assert piece(me, "peer-fingerprint") == keys.fingerprint(cert)
        assert piece(near, "tls-crypt") == piece(far, "tls-crypt")
        versions = {v for g in (near, far) for n, (_, v) in stored[region_of[g]].items()
                    if f"/{tunnel.name}/" in n}  # fmt: skip
        assert len(versions) == 1
        assert keyversions.UNRECORDED not in versions


def applied(aws: Aws, path: Path) -> str:
    result = aws.run(apply, str(path), "--yes")
    assert result.exit_code == 0, result.output + str(result.exception)
    return result.output


def test_each_region_holds_only_its_own_ends_keys_and_they_fit_together(
    aws: Aws, demo: Path
) -> None:
    applied(aws, demo)
    assert_coherent(aws, demo)


def test_an_apply_killed_between_the_two_regions_key_writes_is_finished_by_the_next(
    aws: Aws, demo: Path
) -> None:
    factory = fast()
    writes = {"n": 0}

    def crash(call: Call) -> None:
        if (call.service, call.operation) == ("ssm", "PutParameter"):
            writes["n"] += 1
            if writes["n"] > 5:  # past the first region's pieces of some tunnel
                raise Interrupted("killed among the key writes")

    factory.log.hooks.append(crash)
    killed = aws.run(apply, str(demo), "--yes", factory=factory)
    assert killed.exit_code == 1, killed.output
    assert "killed among the key writes" in killed.output
    assert sum(len(held(aws, r)) for r in REGIONS) == 5
    aws.run(unlock, str(demo))

    shown = aws.run(apply, str(demo), "--dry-run")
    assert shown.exit_code == 0, shown.output
    assert "overwritten)" in shown.output  # no gateway runs yet: a fresh set, both regions
    applied(aws, demo)
    assert_coherent(aws, demo)


def test_the_far_ends_pieces_an_older_apply_stored_in_a_region_are_removed(
    aws: Aws, demo: Path
) -> None:
    applied(aws, demo)
    tagged = [{"Key": "vpnctl:topology", "Value": "demo"}]
    before = {r: held(aws, r) for r in REGIONS}
    for region, other in zip(REGIONS, reversed(REGIONS), strict=True):
        for name, (value, version) in before[other].items():  # as each region held the whole set
            aws.client("ssm", region).put_parameter(
                Name=name, Value=value, Type="SecureString", Tags=tagged,
                Description=keyversions.PREFIX + version,
            )  # fmt: skip
    assert "- ssm keys /vpnctl/demo/" in applied(aws, demo)
    assert_coherent(aws, demo)


def test_a_half_lost_while_the_gateways_run_is_refused_and_keys_rotate_restores_it(
    aws: Aws, demo: Path
) -> None:
    """A fingerprint end's private key exists only in its region: apply cannot mend its loss
    and says so; the rotation it names writes both halves, the lost one made with apply's tags
    (an untagged one would be invisible to apply's observe, and refused as a stranger)."""
    applied(aws, demo)
    tunnel = pipeline.plan(demo).design.tunnels[0]
    lost = [n for n in held(aws, "us-west-2") if f"/{tunnel.name}/" in n]
    aws.client("ssm", "us-west-2").delete_parameters(Names=lost)

    refused = aws.run(apply, str(demo), "--yes")
    assert refused.exit_code == 1
    assert f"run `vpnctl keys rotate --link {tunnel.link}`" in " ".join(refused.output.split())
    rotated = aws.run(keys_cli, "rotate", str(demo), "--link", tunnel.link, "--yes")
    assert rotated.exit_code == 0, rotated.output + str(rotated.exception)
    tags = aws.client("ssm", "us-west-2").list_tags_for_resource(
        ResourceType="Parameter", ResourceId=lost[0]
    )["TagList"]
    assert {"Key": "vpnctl:topology", "Value": "demo"} in tags
    shown = aws.run(apply, str(demo), "--dry-run")
    assert shown.exit_code == 0, shown.output
    assert "ssm keys" not in shown.output  # nothing left to write or remove
    assert_coherent(aws, demo)
