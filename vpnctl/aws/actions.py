"""One handler per change class, dispatched by type: the AWS calls that make each change.

Every call goes through the door (``vpnctl.aws.door``): it tags each create in the same call,
never repeats a create without an idempotency token after a lost connection, and takes the
answers that mean "already done" (a duplicate rule, an existing parameter) as success, so an
interrupted apply re-run converges. Creates that take an idempotency token get one here.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

from vpnctl import keys
from vpnctl.aws import changes as c
from vpnctl.aws import journal, keyversions, names, store
from vpnctl.aws.applylock import TABLE
from vpnctl.aws.context import Executor
from vpnctl.aws.door import At, autoscaling
from vpnctl.aws.door.ec2 import Ec2
from vpnctl.aws.door.iam import Iam
from vpnctl.aws.door.route53 import RecordChange
from vpnctl.aws.door.s3 import S3
from vpnctl.aws.names import BOOT_TAG, DIGEST_TAG, NAME_TAG, TOPOLOGY_TAG, VPC_TAG
from vpnctl.errors import AwsError

POLICY_NAME = names.GATEWAY_POLICY


def perform(ex: Executor, change: c.Change) -> None:
    """One change, by its class's handler in the executor's table (``handlers.HANDLERS``);
    AWS's refusals name the change (``aws``)."""
    ex.handlers[type(change)](ex, change)


def perform_batch(ex: Executor, batch: tuple[c.Change, ...]) -> None:
    """A batch from ``changes.batched``: one change, the DNS records of one zone, or the
    ingress rules of one security group."""
    if len(batch) == 1:
        perform(ex, batch[0])
        return
    records = [ch for ch in batch if isinstance(ch, c.UpsertRecord | c.DeleteRecord)]
    rules = [ch for ch in batch if isinstance(ch, c.AuthorizeIngress)]
    assert len(records) == len(batch) or len(rules) == len(batch), "one kind per batch"
    if records:
        change_records(ex, records, f"dns records {_some(r.fqdn for r in records)}")
        return
    shown = (
        f"security group {rules[0].group.name}: allow {_some(r.permit.describe() for r in rules)}"
    )
    authorize_all(ex, rules, shown)


def _some(items: Iterable[str], most: int = 3) -> str:
    found = list(items)
    more = f" and {len(found) - most} more" if len(found) > most else ""
    return ", ".join(found[:most]) + more


# ------------------------------------------------------------------ helpers


def aws(ex: Executor, change: c.Change, resource: str | None = None) -> At:
    """The door where ``change`` works; its errors name ``resource`` (the change, else)."""
    w = change.where
    return ex.door.at(w.account, w.region, change.describe() if resource is None else resource)


def ec2(ex: Executor, change: c.Change) -> Ec2:
    return aws(ex, change).ec2


def tags(ex: Executor, name: str, **extra: str) -> dict[str, str]:
    return names.tags(ex.intent.topology, name, **extra)


def token(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:64]


def put(ex: Executor, kind: str, change: c.Change, name: str, value: str) -> None:
    ex.registry.put(kind, change.where.account, change.where.region, name, value)


def resolve(ex: Executor, ref: c.Ref) -> str:
    found = ex.registry.get(ref)
    if found is None and ref.kind == "gateway-eni":
        found = wait_for_instance(ex, ref)
    if found is None:
        raise AwsError(ref.account, ref.region, f"{ref.kind} {ref.name}", "not made yet")
    return found


def remember_instance(ex: Executor, ref: c.Ref, instance: dict[str, Any]) -> None:
    """A gateway instance's interface found, unless its gateway has one known already (the
    first wins): a route to the gateway targets it."""
    name = {t["Key"]: t["Value"] for t in instance.get("Tags", [])}.get(NAME_TAG)
    known = c.Ref("gateway-eni", ref.account, ref.region, name or "")
    if not name or not instance.get("NetworkInterfaces") or ex.registry.get(known) is not None:
        return
    eni = instance["NetworkInterfaces"][0]["NetworkInterfaceId"]
    ex.registry.put("gateway-eni", ref.account, ref.region, name, eni)


def wait_for_instance(ex: Executor, ref: c.Ref) -> str:
    """The gateway's Auto Scaling group launches its instance; wait for it (bounded). One read
    finds every gateway instance of the region, so the next gateways need no call of their own."""
    door = ex.door.at(ref.account, ref.region, f"instances of topology {ex.intent.topology}")
    filters = [
        {"Name": f"tag:{TOPOLOGY_TAG}", "Values": [ex.intent.topology]},
        {"Name": "instance-state-name", "Values": list(names.LIVE_STATES)},
    ]
    deadline = ex.clock() + ex.wait_s
    while True:
        for instance in door.ec2.instances(filters):
            remember_instance(ex, ref, instance)
        made = ex.registry.get(ref)
        if made is not None:
            return made
        if ex.clock() > deadline:
            raise AwsError(
                ref.account,
                ref.region,
                f"gateway {ref.name}",
                f"no instance after {ex.wait_s:.0f}s (see the Auto Scaling group's activity; "
                "apply again once it runs)",
            )
        ex.progress.waiting(f"the instance of {ref.name}")
        ex.sleep(10.0)


# ------------------------------------------------------------------ stage 0


def create_vpc(ex: Executor, ch: c.CreateVpc) -> None:
    put(ex, "vpc", ch, ch.name, ec2(ex, ch).create_vpc(ch.cidr, tags(ex, ch.name)))


def create_zone(ex: Executor, ch: c.CreateHostedZone) -> None:
    reference = f"vpnctl-{ex.intent.topology}-{int(ex.clock() * 1000)}"
    made = aws(ex, ch).route53.create_hosted_zone(ch.zone, reference, tags(ex, ch.zone))
    put(ex, "zone", ch, ch.zone, made)


def create_role(ex: Executor, ch: c.CreateRole) -> None:
    make_role(ex, aws(ex, ch).iam, ch.role_name, ch.path, ch.trust, f"vpnctl gateway {ch.name}", ch.name)  # fmt: skip


def make_role(
    ex: Executor, iam: Iam, role: str, path: str, trust: str, description: str, name: str
) -> str | None:
    """An IAM role tagged as ``name``'s; one that exists already is taken as made. Its ARN
    when this call made it."""
    return iam.create_role(role, path, trust, description, tags(ex, name))


def unfinished_rotation(ex: Executor, ch: c.UnfinishedRotation) -> None:
    raise AwsError(ch.where.account, ch.where.region, f"keys of link {ch.link}", ch.describe())


def put_keys(ex: Executor, ch: c.PutKeys) -> None:
    """Each parameter records the version of the tunnel's whole key set (``keyversions``), the
    same in both ends' regions, though each stores only its own gateways' pieces."""
    values = copied_keys(ex, ch) if ch.copy_from else ex.keys(ch.tunnel)
    ssm = aws(ex, ch).ssm
    described = keyversions.description(values)
    for name in ch.names:
        if name in ch.overwrite:  # tags stay as they are: SSM refuses Tags with Overwrite
            ssm.overwrite_secret(name, values[name], described)
        else:
            ssm.put_new_secret(name, values[name], described, tags(ex, name, **{"vpnctl:tunnel": ch.tunnel}))  # fmt: skip


def copied_keys(ex: Executor, ch: c.PutKeys) -> dict[str, str]:
    """A psk tunnel's whole key set from the one static key the other region holds: every
    piece of it is that key (``diff.keys`` copies nothing else)."""
    assert ch.copy_from is not None
    tunnel = next(t for t in ex.intent.design.tunnels if t.name == ch.tunnel)
    assert tunnel.mode == "psk"
    there = ex.intent.parameters_at(tunnel, ch.copy_from.account, ch.copy_from.region)
    source = ex.door.at(ch.copy_from.account, ch.copy_from.region, ch.describe()).ssm
    found = set(keys.hold(source.secrets(there)).values())
    if len(found) != 1:
        raise AwsError(
            ch.copy_from.account,
            ch.copy_from.region,
            f"ssm keys of tunnel {tunnel.name}",
            "the static key to copy is gone or differs between its pieces: run "
            f"`vpnctl keys rotate --link {tunnel.link}`",
        )
    return dict.fromkeys(ex.intent.parameters(tunnel), found.pop())


def allocate_address(ex: Executor, ch: c.AllocateAddress) -> None:
    made = ec2(ex, ch).allocate_address(tags(ex, ch.name))
    put(ex, "eip-ip", ch, ch.name, made.public_ip)


def put_store(ex: Executor, ch: c.PutArtifactStore) -> None:
    s3 = aws(ex, ch).s3
    if ch.create:
        create_bucket(ex, s3, ch)
    s3.lock_down(ch.bucket, store.bucket_owner(ch.bucket), store.PUBLIC_ACCESS_BLOCK, ch.policy)


def create_bucket(ex: Executor, s3: S3, ch: c.PutArtifactStore) -> None:
    """Made with its owner enforced (no ACLs) and tagged; one this account has already is
    taken as made, one another account has is an error naming the bucket."""
    s3.create_bucket(ch.bucket, store.bucket_owner(ch.bucket), {store.STORE_TAG: "artifacts"})


# ------------------------------------------------------------------ stage 1


def put_artifact(ex: Executor, ch: c.PutArtifact) -> None:
    """S3 checks the object against its SHA-256 as it arrives (``ChecksumSHA256``)."""
    blob = next(b for b in ex.intent.blobs(ch.where.account, ch.where.region) if b.key == ch.key)
    sha256 = base64.b64encode(bytes.fromhex(blob.sha256)).decode()
    object_tags = {TOPOLOGY_TAG: ex.intent.topology, NAME_TAG: ch.what}
    owner = store.bucket_owner(ch.bucket)
    aws(ex, ch).s3.put_object(ch.bucket, owner, ch.key, blob.data, sha256, object_tags)


def put_pointer(ex: Executor, ch: c.PutPointer) -> None:
    """Rewritten in place (the one object that is): S3 replaces an object whole, so a gateway
    reading it sees the old pointer or the new one, never a mix."""
    data = ch.data.encode()
    sha256 = base64.b64encode(hashlib.sha256(data).digest()).decode()
    object_tags = {TOPOLOGY_TAG: ex.intent.topology, NAME_TAG: ch.gateway}
    aws(ex, ch).s3.put_object(
        ch.bucket,
        store.bucket_owner(ch.bucket),
        ch.key,
        data,
        sha256,
        object_tags,
        ContentType="application/json",
        CacheControl="no-cache",
    )


def create_igw(ex: Executor, ch: c.CreateInternetGateway) -> None:
    client = ec2(ex, ch)
    igw = client.create_internet_gateway(tags(ex, ch.vpc.name))
    client.attach_internet_gateway(igw, resolve(ex, ch.vpc))
    put(ex, "igw", ch, ch.vpc.name, igw)


def attach_igw(ex: Executor, ch: c.AttachInternetGateway) -> None:
    ec2(ex, ch).attach_internet_gateway(ch.gateway_id, resolve(ex, ch.vpc))
    put(ex, "igw", ch, ch.vpc.name, ch.gateway_id)


def create_subnet(ex: Executor, ch: c.CreateSubnet) -> None:
    made = ec2(ex, ch).create_subnet(resolve(ex, ch.vpc), ch.cidr, ch.az, tags(ex, ch.name))
    put(ex, "subnet", ch, ch.name, made)


def create_group(ex: Executor, ch: c.CreateSecurityGroup) -> None:
    vpc = resolve(ex, ch.vpc)
    made = ec2(ex, ch).create_security_group(ch.group_name, ch.description, vpc, tags(ex, ch.name))
    put(ex, "sg", ch, ch.name, made)


def create_table(ex: Executor, ch: c.CreateRouteTable) -> None:
    vpc = resolve(ex, ch.vpc)
    made = ec2(ex, ch).create_route_table(
        vpc, token(ex.intent.topology, ch.name, vpc), tags(ex, ch.name, **{VPC_TAG: ch.where.vpc})
    )
    put(ex, "route-table", ch, ch.name, made)


def create_profile(ex: Executor, ch: c.CreateInstanceProfile) -> None:
    aws(ex, ch).iam.create_instance_profile(ch.profile_name, ch.path, ch.role_name, tags(ex, ch.name))  # fmt: skip


def put_policy(ex: Executor, ch: c.PutRolePolicy) -> None:
    aws(ex, ch).iam.put_role_policy(ch.role_name, POLICY_NAME, ch.policy)


# ------------------------------------------------------------------ stage 2


def associate_table(ex: Executor, ch: c.AssociateRouteTable) -> None:
    table = resolve(ex, ch.table)
    if ch.replaces:
        ec2(ex, ch).replace_route_table_association(ch.replaces, table)
        return
    ec2(ex, ch).associate_route_table(table, resolve(ex, ch.subnet))


def set_route(ex: Executor, ch: c.Change, table: str, destination: str, **target: str) -> None:
    ec2(ex, ch).put_route(table, destination, exists=False, **target)


def route_to_internet(ex: Executor, ch: c.RouteToInternet) -> None:
    igw = resolve(ex, ch.internet_gateway)
    set_route(ex, ch, resolve(ex, ch.table), ch.destination, GatewayId=igw)


def authorize(ex: Executor, ch: c.AuthorizeIngress) -> None:
    authorize_all(ex, [ch])


def ingress_rule(ex: Executor, permit: c.Permit) -> dict[str, Any]:
    source = permit.source
    cidr = source if isinstance(source, str) else f"{resolve(ex, source)}/32"
    rule: dict[str, Any] = {
        "IpProtocol": permit.protocol,
        "IpRanges": [{"CidrIp": cidr, "Description": permit.why[:255]}],
    }
    if permit.protocol != "-1":
        rule |= {"FromPort": permit.from_port, "ToPort": permit.to_port}
    return rule


def authorize_all(
    ex: Executor, batch: Sequence[c.AuthorizeIngress], resource: str | None = None
) -> None:
    """The rules of one security group in one call (the door adds them one by one when one
    of them is there already)."""
    first = batch[0]
    rules = [ingress_rule(ex, ch.permit) for ch in batch]
    aws(ex, first, resource).ec2.authorize_ingress(resolve(ex, first.group), rules)


def revoke(ex: Executor, ch: c.RevokeIngress) -> None:
    r = ch.rule
    rule: dict[str, Any] = {"IpProtocol": r.protocol, "IpRanges": [{"CidrIp": r.cidr}]}
    if r.protocol != "-1":
        rule |= {"FromPort": r.from_port, "ToPort": r.to_port}
    ec2(ex, ch).revoke_ingress(resolve(ex, ch.group), rule)


def template_data(ex: Executor, name: str, data: c.LaunchTemplateData) -> dict[str, Any]:
    userdata = ex.intent.userdata[name]
    return {
        "ImageId": data.image_id,
        "InstanceType": data.instance_type,
        "IamInstanceProfile": {"Name": data.profile_name},
        "SecurityGroupIds": [resolve(ex, data.group)],
        "UserData": base64.b64encode(userdata).decode(),
        "MetadataOptions": {"HttpTokens": "required", "HttpEndpoint": "enabled"},
    }


def create_template(ex: Executor, ch: c.CreateLaunchTemplate) -> None:
    ec2(ex, ch).create_launch_template(
        ch.template_name,
        token(ex.intent.topology, ch.template_name, ch.data.digest),
        template_data(ex, ch.name, ch.data),
        tags(ex, ch.name, **{DIGEST_TAG: ch.data.digest, BOOT_TAG: ch.data.boot}),
    )


def update_template(ex: Executor, ch: c.UpdateLaunchTemplate) -> None:
    ec2(ex, ch).update_launch_template(
        ch.template_id,
        token(ex.intent.topology, ch.template_name, ch.data.digest),
        template_data(ex, ch.name, ch.data),
        {DIGEST_TAG: ch.data.digest, BOOT_TAG: ch.data.boot},
    )


# ------------------------------------------------------------------ stage 3


# The failover hook's terminate lifecycle hook, as PutLifecycleHook and CreateAutoScalingGroup's
# LifecycleHookSpecificationList both take it.
DRAIN_HOOK: dict[str, Any] = {
    "LifecycleHookName": names.LIFECYCLE_HOOK,
    "LifecycleTransition": "autoscaling:EC2_INSTANCE_TERMINATING",
    "HeartbeatTimeout": 120,  # the hook moves routes in seconds; then the instance may go
    "DefaultResult": "CONTINUE",
}


def group_tags(ex: Executor, group: str, tags: dict[str, str], propagate: bool) -> list[Any]:
    return autoscaling.group_tags(group, tags, propagate)


def create_scaling_group(ex: Executor, ch: c.CreateAutoScalingGroup) -> None:
    """With the failover hook deployed, the group is made with its lifecycle hook and the tag
    that records it (CreateAutoScalingGroup takes both: LifecycleHookSpecificationList, Tags),
    so the hook's PutLifecycleHook for this group has nothing left to do."""
    found = group_tags(ex, ch.group_name, tags(ex, ch.name), True)
    hook: dict[str, Any] = {}
    if ex.intent.hook is not None:
        drain = {names.DRAIN_TAG: names.LIFECYCLE_HOOK}
        found += group_tags(ex, ch.group_name, drain, False)
        hook = {"LifecycleHookSpecificationList": [DRAIN_HOOK]}
    aws(ex, ch).autoscaling.create_group(
        ch.group_name,
        found,
        LaunchTemplate={"LaunchTemplateName": ch.template_name, "Version": "$Default"},
        MinSize=1,
        MaxSize=1,
        DesiredCapacity=1,
        VPCZoneIdentifier=resolve(ex, ch.subnet),
        HealthCheckType="EC2",
        **hook,
    )
    if hook:
        put(ex, "drain-hook", ch, ch.group_name, names.LIFECYCLE_HOOK)


# ------------------------------------------------------------------ stage 4


def route_to_gateway(ex: Executor, ch: c.RouteToGateway) -> None:
    eni = resolve(ex, ch.gateway)
    set_route(ex, ch, resolve(ex, ch.table), ch.destination, NetworkInterfaceId=eni)


def zone_id(ex: Executor, ch: c.Change) -> str:
    zone = ex.intent.design.zone
    ref = c.Ref("zone", ch.where.account, ch.where.region, zone, ex.zone_id)
    return resolve(ex, ref)


def record_change(ex: Executor, ch: c.UpsertRecord | c.DeleteRecord) -> RecordChange:
    """One entry of a ChangeResourceRecordSets batch."""
    if isinstance(ch, c.UpsertRecord):
        return RecordChange("UPSERT", ch.fqdn, ch.ttl, (resolve(ex, ch.address),))
    return RecordChange("DELETE", ch.fqdn, ch.ttl, ch.values)


def change_records(
    ex: Executor, batch: Sequence[c.UpsertRecord | c.DeleteRecord], resource: str | None = None
) -> None:
    """One ChangeResourceRecordSets for the whole batch (all of one zone); the door makes
    them one by one when a DELETE of a record already gone fails the batch."""
    first = batch[0]
    route53 = aws(ex, first, resource).route53
    route53.change_records(zone_id(ex, first), [record_change(ex, ch) for ch in batch])


def upsert_record(ex: Executor, ch: c.UpsertRecord) -> None:
    change_records(ex, [ch])


# ------------------------------------------------------------------ removals


def delete_record(ex: Executor, ch: c.DeleteRecord) -> None:
    change_records(ex, [ch])  # a record gone already is done (``door.route53``)


def delete_rotation_journal(ex: Executor, ch: c.DeleteRotationJournal) -> None:
    key = {"topology": {"S": journal.key(ch.topology)}}
    aws(ex, ch).dynamodb.delete_item(TABLE, key, gone_ok=True)


def delete_scaling_group(ex: Executor, ch: c.DeleteAutoScalingGroup) -> None:
    aws(ex, ch).autoscaling.delete_group(ch.group_name)
    wait_terminated(ex, ch)


def wait_terminated(ex: Executor, ch: c.DeleteAutoScalingGroup) -> None:
    """Subnets, groups and addresses stay busy until the instance is gone."""
    filters = [
        {"Name": f"tag:{TOPOLOGY_TAG}", "Values": [ex.intent.topology]},
        {"Name": f"tag:{NAME_TAG}", "Values": [ch.name]},
        {"Name": "instance-state-name", "Values": list(names.NOT_TERMINATED)},
    ]
    client = ec2(ex, ch)
    deadline = ex.clock() + ex.wait_s
    while client.instances(filters):
        if ex.clock() > deadline:
            raise AwsError(
                ch.where.account,
                ch.where.region,
                f"gateway {ch.name}",
                "instance still terminating; destroy again later",
            )
        ex.progress.waiting(f"the instance of {ch.name} to terminate")
        ex.sleep(10.0)


def delete_route(ex: Executor, ch: c.DeleteRoute) -> None:
    ec2(ex, ch).delete_route(ch.table_id, ch.destination)


def delete_template(ex: Executor, ch: c.DeleteLaunchTemplate) -> None:
    ec2(ex, ch).delete_launch_template(ch.template_id)


def delete_role(ex: Executor, ch: c.DeleteRole) -> None:
    aws(ex, ch).iam.delete_role(ch.role_name, ch.profiles, POLICY_NAME)


def delete_parameters(ex: Executor, ch: c.DeleteParameters) -> None:
    aws(ex, ch).ssm.delete_parameters(ch.names)


def delete_artifacts(ex: Executor, ch: c.DeleteArtifacts) -> None:
    aws(ex, ch).s3.delete_objects(ch.bucket, store.bucket_owner(ch.bucket), ch.keys)


def delete_store(ex: Executor, ch: c.DeleteArtifactStore) -> None:
    """Another topology's objects keep the bucket (S3 refuses to delete a non-empty one)."""
    aws(ex, ch).s3.delete_bucket(ch.bucket, store.bucket_owner(ch.bucket))


def release_address(ex: Executor, ch: c.ReleaseAddress) -> None:
    ec2(ex, ch).release_address(ch.allocation_id, ch.association_id)


def delete_group(ex: Executor, ch: c.DeleteSecurityGroup) -> None:
    ec2(ex, ch).delete_security_group(ch.group_id)


def delete_table(ex: Executor, ch: c.DeleteRouteTable) -> None:
    ec2(ex, ch).delete_route_table(ch.table_id, ch.associations)


def delete_subnet(ex: Executor, ch: c.DeleteSubnet) -> None:
    ec2(ex, ch).delete_subnet(ch.subnet_id)


def delete_igw(ex: Executor, ch: c.DeleteInternetGateway) -> None:
    ec2(ex, ch).delete_internet_gateway(ch.gateway_id, ch.vpc_id)


def delete_vpc(ex: Executor, ch: c.DeleteVpc) -> None:
    ec2(ex, ch).delete_vpc(ch.vpc_id)


def delete_zone(ex: Executor, ch: c.DeleteHostedZone) -> None:
    aws(ex, ch).route53.delete_hosted_zone(ch.zone_id)
