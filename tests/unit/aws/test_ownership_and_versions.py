"""Pure: records owned by name only, key versions compared, an unfinished rotation reported."""

from __future__ import annotations

from dataclasses import replace

from tests.unit.aws.test_diff import empty, intent
from vpnctl.aws import changes as c
from vpnctl.aws import keyversions
from vpnctl.aws import live as lv
from vpnctl.aws.diff import diff
from vpnctl.aws.sweep import sweep

EAST = ("main", "us-east-1")
WEST = ("main", "us-west-2")


def with_keys(east: dict[str, str], west: dict[str, str]) -> lv.Live:
    """Every tunnel's parameters present in both regions, with the given version per name
    (a name not given has version ``v1``)."""
    i = intent()
    names = {n for t in i.design.tunnels for n in i.parameters(t)}
    regions = {
        at: lv.Region(
            *at,
            parameters=frozenset(names),
            key_versions={n: given.get(n, "v1") for n in names},
        )
        for at, given in ((EAST, east), (WEST, west))
    }
    return empty(regions=regions)


def test_one_version_at_both_ends_is_no_change_and_differing_ones_refuse() -> None:
    assert not any(
        isinstance(ch, c.UnfinishedRotation) for ch in diff(intent(), with_keys({}, {})).changes
    )
    copies = {f"/vpnctl/t/east-a--west-a/{g}/psk": "v2" for g in ("gw-east-a", "gw-west-a")}
    found = diff(intent(), with_keys({}, copies)).changes
    refusals = [ch for ch in found if isinstance(ch, c.UnfinishedRotation)]
    assert len(refusals) == 1
    assert refusals[0].stage < min(ch.stage for ch in found if ch is not refusals[0])
    assert "tunnel east-a--west-a holds different keys" in refusals[0].describe()
    assert "us-east-1 v1, us-west-2 v2" in refusals[0].describe()


def test_a_journal_is_reported_by_apply_and_removed_by_destroy() -> None:
    live = replace(
        with_keys({}, {}),
        rotation=lv.Rotation("east--west", "2026-01-01T00:00:00Z", ("east-a--west-a",)),
    )
    found = diff(intent(), live).changes
    assert any(
        isinstance(ch, c.UnfinishedRotation) and "east-a--west-a" in ch.describe() for ch in found
    )
    removals = sweep(intent(), live, everything=True)
    assert any(isinstance(ch, c.DeleteRotationJournal) for ch in removals)
    assert not any(isinstance(ch, c.DeleteRotationJournal) for ch in sweep(intent(), live))


def test_versions_are_digests_that_tell_key_sets_apart() -> None:
    one = keyversions.version({"/a": "secret-1"})
    assert one == keyversions.version({"/a": "secret-1"})
    assert one != keyversions.version({"/a": "secret-2"})
    assert "secret" not in keyversions.description({"/a": "secret-1"})
    assert keyversions.parse(keyversions.description({"/a": "secret-1"})) == one
    assert keyversions.parse(None) == keyversions.parse("someone's") == keyversions.UNRECORDED


def test_records_are_owned_by_name_never_by_where_they_point() -> None:
    region = lv.Region(
        *EAST,
        addresses=(
            lv.Address("eipalloc-1", "198.51.100.1", "gw-east-a"),
            lv.Address("eipalloc-9", "198.51.100.9", "gw-east-c"),  # a gateway being removed
        ),
    )
    zone = lv.Zone(
        "vpn.example.com",
        "Z1",
        records=(
            lv.Record("gw-east-a.vpn.example.com", "A", 30, ("198.51.100.1",)),
            lv.Record("gw-east-c.vpn.example.com", "A", 30, ("198.51.100.9",)),
            lv.Record("my-alias.vpn.example.com", "A", 300, ("198.51.100.1",)),
            lv.Record("gw-east-z.vpn.example.com", "A", 300, ("192.0.2.1",)),
        ),
    )
    live = replace(empty(regions={EAST: region}), zone=zone)
    applied = [ch.fqdn for ch in sweep(intent(), live) if isinstance(ch, c.DeleteRecord)]
    assert applied == ["gw-east-c.vpn.example.com"]
    destroyed = {
        ch.fqdn for ch in sweep(intent(), live, everything=True) if isinstance(ch, c.DeleteRecord)
    }
    assert destroyed == {"gw-east-a.vpn.example.com", "gw-east-c.vpn.example.com"}
