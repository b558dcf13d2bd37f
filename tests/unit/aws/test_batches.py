"""``changes.batched``: DNS records of a zone go in one call, everything else one by one."""

from __future__ import annotations

from vpnctl.aws import changes as c

ZONE = c.Where("main", "us-east-1")
VPC = c.Where("main", "us-east-1", "v00")


def upsert(i: int) -> c.UpsertRecord:
    return c.UpsertRecord(
        ZONE, f"gw{i}.vpn.example.com", c.Ref("eip-ip", "main", "us-east-1", f"gw{i}"), 60
    )


def route(i: int) -> c.RouteToGateway:
    table = c.Ref("route-table", "main", "us-east-1", f"t{i}")
    return c.RouteToGateway(
        VPC, table, "10.0.0.0/8", c.Ref("gateway-eni", "main", "us-east-1", f"gw{i}")
    )


def test_records_of_a_zone_go_together_where_the_last_one_stood() -> None:
    work = [upsert(0), route(0), upsert(1), route(1), upsert(2)]
    assert list(c.batched(work)) == [(route(0),), (route(1),), (upsert(0), upsert(1), upsert(2))]


def test_other_changes_keep_their_order_one_by_one() -> None:
    work = [route(0), route(1), upsert(0)]
    assert list(c.batched(work)) == [(route(0),), (route(1),), (upsert(0),)]


def test_a_batch_holds_at_most_the_api_limit() -> None:
    work = [upsert(i) for i in range(c.PER_BATCH * 2 + 1)]
    sizes = [len(b) for b in c.batched(work)]
    assert sizes == [c.PER_BATCH, c.PER_BATCH, 1]
    assert [ch for b in c.batched(work) for ch in b] == work


def test_deletes_and_upserts_are_never_in_one_batch() -> None:
    gone = c.DeleteRecord(ZONE, "old.vpn.example.com", 60, ("192.0.2.1",))
    work = [upsert(0), gone, upsert(1)]
    assert list(c.batched(work)) == [(gone,), (upsert(0), upsert(1))]


def test_ingress_rules_of_one_group_go_together() -> None:
    def allow(group: str, port: int) -> c.AuthorizeIngress:
        ref = c.Ref("sg", "main", "us-east-1", group)
        return c.AuthorizeIngress(VPC, ref, c.Permit("udp", port, port, "10.0.0.0/8", "t"))

    work = [allow("a", 1), allow("b", 1), allow("a", 2), route(0)]
    assert list(c.batched(work)) == [(allow("b", 1),), (allow("a", 1), allow("a", 2)), (route(0),)]
