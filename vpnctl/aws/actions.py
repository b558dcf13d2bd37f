"""One handler per change class, dispatched by type: the AWS calls that make each change.

Every create tags its object in the same call (``TagSpecifications``), so nothing vpnctl made
is ever untagged, even if the process dies right after. Creates that take an idempotency
token get one; the others are never retried after a lost connection (see ``retry``). Answers
that mean "already done" (a duplicate rule, an existing parameter) count as success, so an
interrupted apply re-run converges.
"""

from __future__ import annotations

import base64
import hashlib
import urllib.parse
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import botocore.exceptions

from vpnctl import keys
from vpnctl.aws import changes as c
from vpnctl.aws import journal, keyversions, names, pages, store
from vpnctl.aws.applylock import TABLE
from vpnctl.aws.context import Executor
from vpnctl.aws.names import BOOT_TAG, DIGEST_TAG, NAME_TAG, TOPOLOGY_TAG, VPC_TAG
from vpnctl.aws.session import Client, aws_errors, error_code
from vpnctl.errors import AwsError

POLICY_NAME = names.GATEWAY_POLICY


def perform(ex: Executor, change: c.Change) -> None:
    """One change, by its class's handler in the executor's table (``handlers.HANDLERS``)."""
    w = change.where
    with aws_errors(w.account, w.region, change.describe()):
        ex.handlers[type(change)](ex, change)


def perform_batch(ex: Executor, batch: tuple[c.Change, ...]) -> None:
    """A batch from ``changes.batched``: one change, the DNS records of one zone, or the
    ingress rules of one security group."""
    if len(batch) == 1:
        perform(ex, batch[0])
        return
    w = batch[0].where
    records = [ch for ch in batch if isinstance(ch, c.UpsertRecord | c.DeleteRecord)]
    rules = [ch for ch in batch if isinstance(ch, c.AuthorizeIngress)]
    assert len(records) == len(batch) or len(rules) == len(batch), "one kind per batch"
    if records:
        with aws_errors(w.account, w.region, f"dns records {_some(r.fqdn for r in records)}"):
            change_records(ex, records)
        return
    shown = (
        f"security group {rules[0].group.name}: allow {_some(r.permit.describe() for r in rules)}"
    )
    with aws_errors(w.account, w.region, shown):
        authorize_all(ex, rules)


def _some(items: Iterable[str], most: int = 3) -> str:
    found = list(items)
    more = f" and {len(found) - most} more" if len(found) > most else ""
    return ", ".join(found[:most]) + more


# ------------------------------------------------------------------ helpers


def ec2(ex: Executor, change: c.Change) -> Client:
    return ex.sessions.client(change.where.account, change.where.region, "ec2")


def call(
    ex: Executor,
    fn: Callable[..., Any],
    *,
    idempotent: bool = True,
    ok: tuple[str, ...] = (),
    **kw: Any,
) -> Any:
    """One AWS call with retries; error codes in ``ok`` mean it was done already (None)."""
    try:
        return ex.retry.call(lambda: fn(**kw), idempotent=idempotent)
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) in ok:
            return None
        raise


def tag_list(ex: Executor, name: str, **extra: str) -> list[dict[str, str]]:
    found = names.tags(ex.intent.topology, name, **extra)
    return [{"Key": k, "Value": v} for k, v in found.items()]


def tagged(ex: Executor, resource: str, name: str, **extra: str) -> list[dict[str, Any]]:
    return [{"ResourceType": resource, "Tags": tag_list(ex, name, **extra)}]


def token(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:64]


def put(ex: Executor, kind: str, change: c.Change, name: str, value: str) -> None:
    ex.registry.put(kind, change.where.account, change.where.region, name, value)


def resolve(ex: Executor, ref: c.Ref) -> str:
    found = ex.registry.get(ref)
    if found is None and ref.kind in ("gateway-eni", "gateway-instance"):
        found = wait_for_instance(ex, ref)
    if found is None:
        raise AwsError(ref.account, ref.region, f"{ref.kind} {ref.name}", "not made yet")
    return found


def remember_instance(ex: Executor, ref: c.Ref, instance: dict[str, Any]) -> None:
    """A gateway instance found, unless its gateway has one known already (the first wins)."""
    name = {t["Key"]: t["Value"] for t in instance.get("Tags", [])}.get(NAME_TAG)
    known = c.Ref("gateway-instance", ref.account, ref.region, name or "")
    if not name or not instance.get("NetworkInterfaces") or ex.registry.get(known) is not None:
        return
    eni = instance["NetworkInterfaces"][0]["NetworkInterfaceId"]
    ex.registry.put("gateway-instance", ref.account, ref.region, name, instance["InstanceId"])
    ex.registry.put("gateway-eni", ref.account, ref.region, name, eni)


def wait_for_instance(ex: Executor, ref: c.Ref) -> str:
    """The gateway's Auto Scaling group launches its instance; wait for it (bounded). One read
    finds every gateway instance of the region, so the next gateways need no call of their own."""
    ec2c = ex.sessions.client(ref.account, ref.region, "ec2")
    filters = [
        {"Name": f"tag:{TOPOLOGY_TAG}", "Values": [ex.intent.topology]},
        {"Name": "instance-state-name", "Values": list(names.LIVE_STATES)},
    ]
    deadline = ex.clock() + ex.wait_s
    while True:
        found = ex.retry.call(
            lambda: pages.items(ec2c, "describe_instances", "Reservations", Filters=filters)
        )
        for instance in (i for r in found for i in r["Instances"]):
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
    made = call(
        ex,
        ec2(ex, ch).create_vpc,
        idempotent=False,
        CidrBlock=ch.cidr,
        TagSpecifications=tagged(ex, "vpc", ch.name),
    )
    put(ex, "vpc", ch, ch.name, made["Vpc"]["VpcId"])


def create_zone(ex: Executor, ch: c.CreateHostedZone) -> None:
    r53 = ex.sessions.client(ch.where.account, ch.where.region, "route53")
    reference = f"vpnctl-{ex.intent.topology}-{int(ex.clock() * 1000)}"
    made = call(ex, r53.create_hosted_zone, Name=ch.zone, CallerReference=reference)
    zone_id = made["HostedZone"]["Id"].split("/")[-1]
    call(
        ex,
        r53.change_tags_for_resource,
        ResourceType="hostedzone",
        ResourceId=zone_id,
        AddTags=tag_list(ex, ch.zone),
    )
    put(ex, "zone", ch, ch.zone, zone_id)


def create_role(ex: Executor, ch: c.CreateRole) -> None:
    iam = ex.sessions.client(ch.where.account, ch.where.region, "iam")
    make_role(ex, iam, ch.role_name, ch.path, ch.trust, f"vpnctl gateway {ch.name}", ch.name)


def make_role(
    ex: Executor, iam: Any, role: str, path: str, trust: str, description: str, name: str
) -> None:
    """An IAM role tagged as ``name``'s; one that exists already is taken as made."""
    call(
        ex,
        iam.create_role,
        ok=("EntityAlreadyExists",),
        RoleName=role,
        Path=path,
        AssumeRolePolicyDocument=trust,
        Description=description,
        Tags=tag_list(ex, name),
    )


def unfinished_rotation(ex: Executor, ch: c.UnfinishedRotation) -> None:
    raise AwsError(ch.where.account, ch.where.region, f"keys of link {ch.link}", ch.describe())


def put_keys(ex: Executor, ch: c.PutKeys) -> None:
    values = copied_keys(ex, ch) if ch.copy_from else ex.keys(ch.tunnel)
    ssm = ex.sessions.client(ch.where.account, ch.where.region, "ssm")
    described = keyversions.description({n: values[n] for n in ch.names})
    for name in ch.names:
        call(
            ex,
            ssm.put_parameter,
            ok=("ParameterAlreadyExists",),
            Name=name,
            Value=values[name],
            Type="SecureString",
            Description=described,
            Overwrite=False,
            Tags=tag_list(ex, name, **{"vpnctl:tunnel": ch.tunnel}),
        )


def copied_keys(ex: Executor, ch: c.PutKeys) -> dict[str, str]:
    assert ch.copy_from is not None
    source = ex.sessions.client(ch.copy_from.account, ch.copy_from.region, "ssm")
    found = call(ex, source.get_parameters, Names=list(ch.names), WithDecryption=True)
    return dict(keys.hold({p["Name"]: p["Value"] for p in found["Parameters"]}))


def allocate_address(ex: Executor, ch: c.AllocateAddress) -> None:
    made = call(
        ex,
        ec2(ex, ch).allocate_address,
        idempotent=False,
        Domain="vpc",
        TagSpecifications=tagged(ex, "elastic-ip", ch.name),
    )
    put(ex, "eip", ch, ch.name, made["AllocationId"])
    put(ex, "eip-ip", ch, ch.name, made["PublicIp"])


def put_store(ex: Executor, ch: c.PutArtifactStore) -> None:
    s3 = ex.sessions.client(ch.where.account, ch.where.region, "s3")
    if ch.create:
        create_bucket(ex, s3, ch)
    owner = expected_owner(ch)
    call(
        ex,
        s3.put_public_access_block,
        PublicAccessBlockConfiguration=store.PUBLIC_ACCESS_BLOCK,
        **owner,
    )
    call(ex, s3.put_bucket_policy, Policy=ch.policy, **owner)


def expected_owner(
    ch: c.PutArtifactStore
    | c.PutArtifact
    | c.PutPointer
    | c.DeleteArtifacts
    | c.DeleteArtifactStore,
) -> dict[str, Any]:
    """The bucket and its owner's account id (``store.bucket_owner``)."""
    return {"Bucket": ch.bucket, "ExpectedBucketOwner": store.bucket_owner(ch.bucket)}


def create_bucket(ex: Executor, s3: Client, ch: c.PutArtifactStore) -> None:
    """Made with its owner enforced (no ACLs) and tagged; one this account has already is
    taken as made, one another account has is an error naming the bucket."""
    where: dict[str, Any] = {}
    if ch.where.region != "us-east-1":  # S3 refuses a LocationConstraint of us-east-1
        where = {"CreateBucketConfiguration": {"LocationConstraint": ch.where.region}}
    call(
        ex,
        s3.create_bucket,
        ok=("BucketAlreadyOwnedByYou",),
        Bucket=ch.bucket,
        ObjectOwnership="BucketOwnerEnforced",
        **where,
    )
    call(
        ex,
        s3.put_bucket_tagging,
        Tagging={"TagSet": [{"Key": store.STORE_TAG, "Value": "artifacts"}]},
        **expected_owner(ch),
    )


# ------------------------------------------------------------------ stage 1


def put_artifact(ex: Executor, ch: c.PutArtifact) -> None:
    """S3 checks the object against its SHA-256 as it arrives (``ChecksumSHA256``)."""
    blob = next(b for b in ex.intent.blobs(ch.where.account, ch.where.region) if b.key == ch.key)
    s3 = ex.sessions.client(ch.where.account, ch.where.region, "s3")
    tags = {TOPOLOGY_TAG: ex.intent.topology, NAME_TAG: ch.what}
    call(
        ex,
        s3.put_object,
        Key=ch.key,
        Body=blob.data,
        ChecksumSHA256=base64.b64encode(bytes.fromhex(blob.sha256)).decode(),
        Tagging=urllib.parse.urlencode(tags),
        **expected_owner(ch),
    )


def put_pointer(ex: Executor, ch: c.PutPointer) -> None:
    """Rewritten in place (the one object that is): S3 replaces an object whole, so a gateway
    reading it sees the old pointer or the new one, never a mix."""
    data = ch.data.encode()
    s3 = ex.sessions.client(ch.where.account, ch.where.region, "s3")
    tags = {TOPOLOGY_TAG: ex.intent.topology, NAME_TAG: ch.gateway}
    call(
        ex,
        s3.put_object,
        Key=ch.key,
        Body=data,
        ContentType="application/json",
        CacheControl="no-cache",
        ChecksumSHA256=base64.b64encode(hashlib.sha256(data).digest()).decode(),
        Tagging=urllib.parse.urlencode(tags),
        **expected_owner(ch),
    )


def create_igw(ex: Executor, ch: c.CreateInternetGateway) -> None:
    client = ec2(ex, ch)
    made = call(
        ex,
        client.create_internet_gateway,
        idempotent=False,
        TagSpecifications=tagged(ex, "internet-gateway", ch.vpc.name),
    )
    igw = made["InternetGateway"]["InternetGatewayId"]
    call(ex, client.attach_internet_gateway, InternetGatewayId=igw, VpcId=resolve(ex, ch.vpc))
    put(ex, "igw", ch, ch.vpc.name, igw)


def attach_igw(ex: Executor, ch: c.AttachInternetGateway) -> None:
    call(
        ex,
        ec2(ex, ch).attach_internet_gateway,
        InternetGatewayId=ch.gateway_id,
        VpcId=resolve(ex, ch.vpc),
    )
    put(ex, "igw", ch, ch.vpc.name, ch.gateway_id)


def create_subnet(ex: Executor, ch: c.CreateSubnet) -> None:
    made = call(
        ex,
        ec2(ex, ch).create_subnet,
        idempotent=False,
        VpcId=resolve(ex, ch.vpc),
        CidrBlock=ch.cidr,
        AvailabilityZone=ch.az,
        TagSpecifications=tagged(ex, "subnet", ch.name),
    )
    put(ex, "subnet", ch, ch.name, made["Subnet"]["SubnetId"])


def create_group(ex: Executor, ch: c.CreateSecurityGroup) -> None:
    made = call(
        ex,
        ec2(ex, ch).create_security_group,
        idempotent=False,
        GroupName=ch.group_name,
        Description=ch.description,
        VpcId=resolve(ex, ch.vpc),
        TagSpecifications=tagged(ex, "security-group", ch.name),
    )
    put(ex, "sg", ch, ch.name, made["GroupId"])


def create_table(ex: Executor, ch: c.CreateRouteTable) -> None:
    vpc = resolve(ex, ch.vpc)
    made = call(
        ex,
        ec2(ex, ch).create_route_table,
        VpcId=vpc,
        ClientToken=token(ex.intent.topology, ch.name, vpc),
        TagSpecifications=tagged(ex, "route-table", ch.name, **{VPC_TAG: ch.where.vpc}),
    )
    put(ex, "route-table", ch, ch.name, made["RouteTable"]["RouteTableId"])


def create_profile(ex: Executor, ch: c.CreateInstanceProfile) -> None:
    iam = ex.sessions.client(ch.where.account, ch.where.region, "iam")
    call(
        ex,
        iam.create_instance_profile,
        ok=("EntityAlreadyExists",),
        InstanceProfileName=ch.profile_name,
        Path=ch.path,
        Tags=tag_list(ex, ch.name),
    )
    call(
        ex,
        iam.add_role_to_instance_profile,
        ok=("LimitExceeded", "EntityAlreadyExists"),
        InstanceProfileName=ch.profile_name,
        RoleName=ch.role_name,
    )


def put_policy(ex: Executor, ch: c.PutRolePolicy) -> None:
    iam = ex.sessions.client(ch.where.account, ch.where.region, "iam")
    call(
        ex,
        iam.put_role_policy,
        RoleName=ch.role_name,
        PolicyName=POLICY_NAME,
        PolicyDocument=ch.policy,
    )


# ------------------------------------------------------------------ stage 2


def associate_table(ex: Executor, ch: c.AssociateRouteTable) -> None:
    table = resolve(ex, ch.table)
    if ch.replaces:
        call(
            ex,
            ec2(ex, ch).replace_route_table_association,
            AssociationId=ch.replaces,
            RouteTableId=table,
        )
        return
    call(
        ex,
        ec2(ex, ch).associate_route_table,
        ok=("Resource.AlreadyAssociated",),
        RouteTableId=table,
        SubnetId=resolve(ex, ch.subnet),
    )


def set_route(ex: Executor, ch: c.Change, table: str, destination: str, **target: str) -> None:
    client = ec2(ex, ch)
    args: dict[str, Any] = {"RouteTableId": table, "DestinationCidrBlock": destination, **target}
    made = call(ex, client.create_route, ok=("RouteAlreadyExists",), **args)
    if made is None:
        call(ex, client.replace_route, **args)


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


def authorize_all(ex: Executor, batch: Sequence[c.AuthorizeIngress]) -> None:
    """The rules of one security group in one call. A call with a rule that is there already
    adds none of them (InvalidPermission.Duplicate): then each is added on its own."""
    first = batch[0]
    try:
        call(
            ex,
            ec2(ex, first).authorize_security_group_ingress,
            ok=("InvalidPermission.Duplicate",) if len(batch) == 1 else (),
            GroupId=resolve(ex, first.group),
            IpPermissions=[ingress_rule(ex, ch.permit) for ch in batch],
        )
    except botocore.exceptions.ClientError as exc:
        if len(batch) == 1 or error_code(exc) != "InvalidPermission.Duplicate":
            raise
        for ch in batch:
            perform(ex, ch)


def revoke(ex: Executor, ch: c.RevokeIngress) -> None:
    r = ch.rule
    rule: dict[str, Any] = {"IpProtocol": r.protocol, "IpRanges": [{"CidrIp": r.cidr}]}
    if r.protocol != "-1":
        rule |= {"FromPort": r.from_port, "ToPort": r.to_port}
    call(
        ex,
        ec2(ex, ch).revoke_security_group_ingress,
        ok=("InvalidPermission.NotFound",),
        GroupId=resolve(ex, ch.group),
        IpPermissions=[rule],
    )


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
    call(
        ex,
        ec2(ex, ch).create_launch_template,
        ok=("InvalidLaunchTemplateName.AlreadyExistsException",),
        LaunchTemplateName=ch.template_name,
        ClientToken=token(ex.intent.topology, ch.template_name, ch.data.digest),
        LaunchTemplateData=template_data(ex, ch.name, ch.data),
        TagSpecifications=tagged(
            ex, "launch-template", ch.name, **{DIGEST_TAG: ch.data.digest, BOOT_TAG: ch.data.boot}
        ),
    )


def update_template(ex: Executor, ch: c.UpdateLaunchTemplate) -> None:
    client = ec2(ex, ch)
    made = call(
        ex,
        client.create_launch_template_version,
        LaunchTemplateId=ch.template_id,
        ClientToken=token(ex.intent.topology, ch.template_name, ch.data.digest),
        LaunchTemplateData=template_data(ex, ch.name, ch.data),
    )
    version = str(made["LaunchTemplateVersion"]["VersionNumber"])
    call(ex, client.modify_launch_template, LaunchTemplateId=ch.template_id, DefaultVersion=version)
    call(
        ex,
        client.create_tags,
        Resources=[ch.template_id],
        Tags=[
            {"Key": DIGEST_TAG, "Value": ch.data.digest},
            {"Key": BOOT_TAG, "Value": ch.data.boot},
        ],
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
    where = {"ResourceId": group, "ResourceType": "auto-scaling-group"}
    return [
        {"Key": k, "Value": v, "PropagateAtLaunch": propagate, **where} for k, v in tags.items()
    ]


def create_scaling_group(ex: Executor, ch: c.CreateAutoScalingGroup) -> None:
    """With the failover hook deployed, the group is made with its lifecycle hook and the tag
    that records it (CreateAutoScalingGroup takes both: LifecycleHookSpecificationList, Tags),
    so the hook's PutLifecycleHook for this group has nothing left to do."""
    client = ex.sessions.client(ch.where.account, ch.where.region, "autoscaling")
    tags = group_tags(ex, ch.group_name, names.tags(ex.intent.topology, ch.name), True)
    hook: dict[str, Any] = {}
    if ex.intent.hook is not None:
        drain = {names.DRAIN_TAG: names.LIFECYCLE_HOOK}
        tags += group_tags(ex, ch.group_name, drain, False)
        hook = {"LifecycleHookSpecificationList": [DRAIN_HOOK]}
    call(
        ex,
        client.create_auto_scaling_group,
        ok=("AlreadyExists",),
        AutoScalingGroupName=ch.group_name,
        LaunchTemplate={"LaunchTemplateName": ch.template_name, "Version": "$Default"},
        MinSize=1,
        MaxSize=1,
        DesiredCapacity=1,
        VPCZoneIdentifier=resolve(ex, ch.subnet),
        HealthCheckType="EC2",
        Tags=tags,
        **hook,
    )
    if hook:
        put(ex, "drain-hook", ch, ch.group_name, names.LIFECYCLE_HOOK)


# ------------------------------------------------------------------ stage 4


def route_to_gateway(ex: Executor, ch: c.RouteToGateway) -> None:
    eni = resolve(ex, ch.gateway)
    set_route(ex, ch, resolve(ex, ch.table), ch.destination, NetworkInterfaceId=eni)


def associate_address(ex: Executor, ch: c.AssociateAddress) -> None:
    call(
        ex,
        ec2(ex, ch).associate_address,
        AllocationId=resolve(ex, ch.address),
        InstanceId=resolve(ex, ch.instance),
        AllowReassociation=True,
    )


def disable_check(ex: Executor, ch: c.DisableSourceDestCheck) -> None:
    call(
        ex,
        ec2(ex, ch).modify_instance_attribute,
        InstanceId=resolve(ex, ch.instance),
        SourceDestCheck={"Value": False},
    )


def zone_id(ex: Executor, ch: c.Change) -> str:
    zone = ex.intent.design.zone
    ref = c.Ref("zone", ch.where.account, ch.where.region, zone, ex.zone_id)
    return resolve(ex, ref)


def record_change(ex: Executor, ch: c.UpsertRecord | c.DeleteRecord) -> dict[str, Any]:
    """One entry of a ChangeResourceRecordSets batch."""
    values: tuple[str, ...]
    if isinstance(ch, c.UpsertRecord):
        action, values = "UPSERT", (resolve(ex, ch.address),)
    else:
        action, values = "DELETE", ch.values
    record = {
        "Name": ch.fqdn,
        "Type": "A",
        "TTL": ch.ttl,
        "ResourceRecords": [{"Value": v} for v in values],
    }
    return {"Action": action, "ResourceRecordSet": record}


def change_records(ex: Executor, batch: Sequence[c.UpsertRecord | c.DeleteRecord]) -> None:
    """One ChangeResourceRecordSets for the whole batch (all of one zone). A batch is applied
    all or nothing; a DELETE of a record already gone fails it (InvalidChangeBatch), so a
    batch with deletes that fails so is retried record by record, where that one is done."""
    first = batch[0]
    r53 = ex.sessions.client(first.where.account, first.where.region, "route53")
    deletes = any(isinstance(ch, c.DeleteRecord) for ch in batch)
    try:
        call(
            ex,
            r53.change_resource_record_sets,
            HostedZoneId=zone_id(ex, first),
            ChangeBatch={"Changes": [record_change(ex, ch) for ch in batch]},
        )
    except botocore.exceptions.ClientError as exc:
        if not deletes or len(batch) == 1 or error_code(exc) != "InvalidChangeBatch":
            raise
        for ch in batch:
            perform(ex, ch)


def upsert_record(ex: Executor, ch: c.UpsertRecord) -> None:
    change_records(ex, [ch])


# ------------------------------------------------------------------ removals


def delete_record(ex: Executor, ch: c.DeleteRecord) -> None:
    try:
        change_records(ex, [ch])
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) != "InvalidChangeBatch":  # gone already
            raise


def delete_rotation_journal(ex: Executor, ch: c.DeleteRotationJournal) -> None:
    client = ex.sessions.client(ch.where.account, ch.where.region, "dynamodb")
    key = {"topology": {"S": journal.key(ch.topology)}}
    call(ex, client.delete_item, ok=("ResourceNotFoundException",), TableName=TABLE, Key=key)


def delete_scaling_group(ex: Executor, ch: c.DeleteAutoScalingGroup) -> None:
    client = ex.sessions.client(ch.where.account, ch.where.region, "autoscaling")
    call(
        ex,
        client.delete_auto_scaling_group,
        ok=("ValidationError",),
        AutoScalingGroupName=ch.group_name,
        ForceDelete=True,
    )
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
    while call(ex, client.describe_instances, Filters=filters)["Reservations"]:
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
    call(
        ex,
        ec2(ex, ch).delete_route,
        ok=("InvalidRoute.NotFound",),
        RouteTableId=ch.table_id,
        DestinationCidrBlock=ch.destination,
    )


def delete_template(ex: Executor, ch: c.DeleteLaunchTemplate) -> None:
    call(
        ex,
        ec2(ex, ch).delete_launch_template,
        ok=("InvalidLaunchTemplateId.NotFound",),
        LaunchTemplateId=ch.template_id,
    )


def delete_role(ex: Executor, ch: c.DeleteRole) -> None:
    iam = ex.sessions.client(ch.where.account, ch.where.region, "iam")
    gone = ("NoSuchEntity",)
    for profile in ch.profiles:
        call(
            ex,
            iam.remove_role_from_instance_profile,
            ok=gone,
            InstanceProfileName=profile,
            RoleName=ch.role_name,
        )
        call(ex, iam.delete_instance_profile, ok=gone, InstanceProfileName=profile)
    call(ex, iam.delete_role_policy, ok=gone, RoleName=ch.role_name, PolicyName=POLICY_NAME)
    call(ex, iam.delete_role, ok=gone, RoleName=ch.role_name)


def delete_parameters(ex: Executor, ch: c.DeleteParameters) -> None:
    ssm = ex.sessions.client(ch.where.account, ch.where.region, "ssm")
    for i in range(0, len(ch.names), 10):
        call(ex, ssm.delete_parameters, Names=list(ch.names[i : i + 10]))


def delete_artifacts(ex: Executor, ch: c.DeleteArtifacts) -> None:
    s3 = ex.sessions.client(ch.where.account, ch.where.region, "s3")
    for i in range(0, len(ch.keys), 1000):  # DeleteObjects takes up to 1,000 keys
        objects = [{"Key": k} for k in ch.keys[i : i + 1000]]
        call(
            ex, s3.delete_objects, Delete={"Objects": objects, "Quiet": True}, **expected_owner(ch)
        )


def delete_store(ex: Executor, ch: c.DeleteArtifactStore) -> None:
    """Another topology's objects keep the bucket (S3 refuses to delete a non-empty one)."""
    s3 = ex.sessions.client(ch.where.account, ch.where.region, "s3")
    call(ex, s3.delete_bucket, ok=("BucketNotEmpty", "NoSuchBucket"), **expected_owner(ch))


def release_address(ex: Executor, ch: c.ReleaseAddress) -> None:
    client = ec2(ex, ch)
    if ch.association_id:
        call(
            ex,
            client.disassociate_address,
            ok=("InvalidAssociationID.NotFound",),
            AssociationId=ch.association_id,
        )
    call(
        ex,
        client.release_address,
        ok=("InvalidAllocationID.NotFound",),
        AllocationId=ch.allocation_id,
    )


def delete_group(ex: Executor, ch: c.DeleteSecurityGroup) -> None:
    call(ex, ec2(ex, ch).delete_security_group, ok=("InvalidGroup.NotFound",), GroupId=ch.group_id)


def delete_table(ex: Executor, ch: c.DeleteRouteTable) -> None:
    client = ec2(ex, ch)
    for association in ch.associations:
        call(
            ex,
            client.disassociate_route_table,
            ok=("InvalidAssociationID.NotFound",),
            AssociationId=association,
        )
    call(
        ex,
        client.delete_route_table,
        ok=("InvalidRouteTableID.NotFound",),
        RouteTableId=ch.table_id,
    )


def delete_subnet(ex: Executor, ch: c.DeleteSubnet) -> None:
    call(ex, ec2(ex, ch).delete_subnet, ok=("InvalidSubnetID.NotFound",), SubnetId=ch.subnet_id)


def delete_igw(ex: Executor, ch: c.DeleteInternetGateway) -> None:
    client = ec2(ex, ch)
    if ch.vpc_id:
        call(
            ex,
            client.detach_internet_gateway,
            ok=("Gateway.NotAttached",),
            InternetGatewayId=ch.gateway_id,
            VpcId=ch.vpc_id,
        )
    call(
        ex,
        client.delete_internet_gateway,
        ok=("InvalidInternetGatewayID.NotFound",),
        InternetGatewayId=ch.gateway_id,
    )


def delete_vpc(ex: Executor, ch: c.DeleteVpc) -> None:
    call(ex, ec2(ex, ch).delete_vpc, ok=("InvalidVpcID.NotFound",), VpcId=ch.vpc_id)


def delete_zone(ex: Executor, ch: c.DeleteHostedZone) -> None:
    r53 = ex.sessions.client(ch.where.account, ch.where.region, "route53")
    call(ex, r53.delete_hosted_zone, ok=("NoSuchHostedZone",), Id=ch.zone_id)
