"""The door's own rules, on stub clients and the fake: refusals named, calls counted, every
page read at the API's largest size."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from vpnctl.aws.door import BotoWire, Door
from vpnctl.aws.door.wire import ONCE, Given
from vpnctl.aws.fakedoor import FakeWire
from vpnctl.aws.retry import Retry
from vpnctl.errors import AwsError


class Stub:
    """An EC2 client that refuses, or pages, as it is told."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.asked: list[dict[str, Any]] = []

    def delete_vpc(self, **kw: Any) -> dict[str, Any]:
        self.asked.append(kw)
        if self.errors:
            raise self.errors.pop(0)
        return {}

    def can_paginate(self, operation: str) -> bool:
        return True

    @property
    def meta(self) -> Any:
        class Model:
            service_name = "ec2"

        class Meta:
            service_model = Model()

        return Meta()

    def get_paginator(self, operation: str) -> Any:
        stub = self

        class Pages:
            def paginate(self, **kw: Any) -> list[dict[str, Any]]:
                stub.asked.append(kw)
                return [{"Vpcs": [{"VpcId": "vpc-1"}]}, {"Vpcs": [{"VpcId": "vpc-2"}]}]

        return Pages()


def refused(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "said no"}}, "DeleteVpc")


def door(stub: Stub, retry: Retry = ONCE) -> Door:
    return Door(BotoWire(Given({"ec2": stub}, "eu-west-1"), retry))


def test_a_refusal_names_account_region_resource_and_what_to_do() -> None:
    with pytest.raises(AwsError) as caught:
        door(Stub(refused("UnauthorizedOperation"))).at("main", "eu-west-1", "vpc hub").ec2.delete_vpc("vpc-1")  # fmt: skip
    assert str(caught.value) == (
        "account main, region eu-west-1, vpc hub: UnauthorizedOperation: said no "
        "(the credentials lack permission for this call)"
    )


def test_done_already_is_done_and_the_lost_connection_is_said_plainly() -> None:
    ec2 = door(Stub(refused("InvalidVpcID.NotFound"))).at("main", "eu-west-1", "vpc hub").ec2
    ec2.delete_vpc("vpc-1")  # gone already: no error
    lost = EndpointConnectionError(endpoint_url="https://ec2.eu-west-1.amazonaws.com")
    with pytest.raises(AwsError, match="vpc hub: Could not connect to the endpoint URL"):
        door(Stub(lost)).at("main", "eu-west-1", "vpc hub").ec2.delete_vpc("vpc-1")


def test_throttling_is_retried_by_the_wire() -> None:
    stub = Stub(refused("RequestLimitExceeded"), refused("Throttling"))
    retry = Retry(attempts=3, base_s=0.0, cap_s=0.0, sleep=lambda _s: None)
    door(stub, retry).at("main", "eu-west-1", "vpc hub").ec2.delete_vpc("vpc-1")
    assert len(stub.asked) == 3


def test_every_page_is_read_at_the_largest_size() -> None:
    stub = Stub()
    found = door(stub).at("main", "eu-west-1", "vpcs").ec2.vpcs([])
    assert [v["VpcId"] for v in found] == ["vpc-1", "vpc-2"]
    assert stub.asked == [{"Filters": [], "PaginationConfig": {"PageSize": 1000}}]


def test_the_fake_counts_calls_as_sessions_do_and_knows_its_limits() -> None:
    wire = FakeWire()
    at = Door(wire).at("main", "us-east-1", "alarm a")
    at.cloudwatch.delete_alarms(["a"])
    at.ec2.vpcs([])
    assert [(c.service, c.operation) for c in wire.log.calls] == [
        ("monitoring", "DeleteAlarms"),
        ("ec2", "DescribeVpcs"),
    ]
    assert [c.mutating for c in wire.log.calls] == [True, False]
    with pytest.raises(NotImplementedError, match="fake AWS: ec2 describe_nat_gateways"):
        at.ec2.items("describe_nat_gateways", "NatGateways")


def test_a_key_write_that_finds_its_own_parameter_is_done_and_a_stranger_is_an_error() -> None:
    """A retried PutParameter whose first try landed meets its own value (the same key set's
    version); a parameter someone else left under the name would be read by a gateway as its
    key, so it is refused, named."""
    ssm = Door(FakeWire()).at("main", "eu-west-1", "ssm keys").ssm
    ssm.put_new_secret("/vpnctl/t/x/gw-a/psk", "k", "vpnctl key version 1", {})
    ssm.put_new_secret("/vpnctl/t/x/gw-a/psk", "k", "vpnctl key version 1", {})
    ssm.call("put_parameter", Name="/vpnctl/t/x/gw-b/psk", Value="theirs", Type="SecureString")
    with pytest.raises(AwsError, match=r"region eu-west-1, ssm parameter /vpnctl/t/x/gw-b/psk: a"):
        ssm.put_new_secret("/vpnctl/t/x/gw-b/psk", "k", "vpnctl key version 1", {})


def test_an_overwrite_that_makes_a_parameter_tags_it_and_one_of_an_existing_keeps_its_tags() -> (
    None
):
    wire = FakeWire()
    ssm = Door(wire).at("main", "eu-west-1", "ssm keys").ssm
    ssm.put_new_secret("/vpnctl/t/x/gw-a/psk", "k", "v1", {"vpnctl:topology": "t"})
    ssm.overwrite_secret("/vpnctl/t/x/gw-a/psk", "k2", "v2", {"vpnctl:topology": "other"})
    ssm.overwrite_secret("/vpnctl/t/x/gw-b/psk", "k2", "v2", {"vpnctl:topology": "t"})
    held = wire.state["parameter"]
    assert held[("main", "eu-west-1", "/vpnctl/t/x/gw-a/psk")]["Tags"] == [
        {"Key": "vpnctl:topology", "Value": "t"}
    ]
    assert held[("main", "eu-west-1", "/vpnctl/t/x/gw-b/psk")]["Tags"] == [
        {"Key": "vpnctl:topology", "Value": "t"}
    ]
    calls = [c.operation for c in wire.log.calls]
    assert calls.count("AddTagsToResource") == 1
