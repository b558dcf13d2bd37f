"""AWS's limits, checked at plan time: what moto accepts and AWS refuses. Pure.

``problems(topology, design)`` returns one ``Problem`` per breach, keyed by the topology key
that causes it and saying what to change; ``pipeline.plan`` turns them into exit status 2 before
anything is made. Checked:

- derived names: within each service's length limit (``names.LIMITS``) and unique where AWS
  wants them unique (IAM names per account, case-insensitively; EC2 and Auto Scaling names per
  account and region);
- tags: key 128, value 256, at most 50 per resource;
- IAM policy sizes: a role's inline policies together at most 10,240 characters, a trust
  policy at most 2,048 (a managed policy would be 6,144: vpnctl writes none). IAM counts
  characters without white space (IAM User Guide, "IAM and AWS STS quotas", IAM object
  quotas, and GetAccountSummary: "in non-whitespace characters"); vpnctl's documents are
  compact JSON, so the count is of the document as sent, with any white space removed;
- user-data: at most 16 KB after gzip (EC2 User Guide, "Run commands at launch": "user data
  is limited to 16 KB, in raw form, before it is base64-encoded").

Account IDs are not known at plan time; policies are measured with a 12-digit stand-in, which
has the length of every real one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from vpnctl import render
from vpnctl.aws import hooks, names, store
from vpnctl.aws.intent import Intent, trust_policy
from vpnctl.aws.policy import gateway_policy
from vpnctl.design import Design, Gateway
from vpnctl.errors import Problem
from vpnctl.keys import parameter_names
from vpnctl.partitions import PARTITIONS
from vpnctl.topology import Topology

ROLE_POLICY = 10_240  # a role's inline policies, all together
MANAGED_POLICY = 6_144
TRUST_POLICY = 2_048
ACCOUNT_ID = "000000000000"  # a stand-in of a real ID's length


def problems(topology: Topology, design: Design) -> list[Problem]:
    intent = plan_intent(topology, design)
    return sorted(
        {
            *name_problems(intent),
            *tag_problems(intent),
            *policy_problems(intent),
            *userdata_problems(topology, design),
        }
    )


def plan_intent(topology: Topology, design: Design) -> Intent:
    """The part of apply's ``Intent`` that names and policies depend on (no user-data)."""
    partitions = {n: a.partition for n, a in topology.accounts.items()}
    software, configs = store.stand_ins(topology.name, (g.name for g in design.gateways))
    return Intent(design, topology.gateways.instance_type, {}, {}, topology.dns.account,
                  partitions, software=software, configs=configs)  # fmt: skip


def size(document: str) -> int:
    """A policy's size as IAM counts it: characters other than white space."""
    return sum(1 for c in document if not c.isspace())


# ------------------------------------------------------------------ names


def _derived(intent: Intent) -> Iterator[tuple[str, str, str, str]]:
    """(key, kind, where it must be unique, name) for every name apply gives AWS."""
    topo = intent.topology
    for g in intent.design.gateways:
        key, iam = f"vpcs.{g.vpc}", f"account {g.account}"
        region = f"account {g.account} {g.region}"
        name = intent.aws_name(g.name)
        yield key, "iam role", iam, name
        yield key, "iam instance profile", iam, name
        yield key, "launch template", region, name
        yield key, "auto scaling group", region, name
        yield key, "security group", f"vpc {g.vpc}", intent.aws_name(names.gateway_group(g.name))
        yield key, "cloudwatch alarm", region, names.alarm(topo, g.name)
    for vpc in intent.design.vpcs.values():
        routing = intent.aws_name(names.routing_group(vpc.name))
        yield f"vpcs.{vpc.name}", "security group", f"vpc {vpc.name}", routing
    for account, region in hooks.regions(intent):
        where = f"account {account} {region}"
        yield "name", "lambda function", where, names.hook_function(topo)
        yield from (("name", "eventbridge rule", where, r) for r in hooks.rules(topo))
    for account in {a for a, _ in hooks.regions(intent)}:
        yield "name", "iam role", f"account {account}", names.hook_role(topo)
    yield "name", "iam path", "", intent.iam_path
    yield "name", "dynamodb table", "", names.LOCK_TABLE
    for tunnel in intent.design.tunnels:
        for parameter in parameter_names(topo, tunnel):
            yield f"links.{tunnel.link}", "ssm parameter", "", parameter


def name_problems(intent: Intent) -> Iterator[Problem]:
    derived = list(_derived(intent))
    for key, kind, _, name in derived:
        limit = names.LIMITS[kind]
        full = _ssm_arn_length(name) if kind == "ssm parameter" else len(name)
        if full > limit:
            yield Problem(
                key,
                f"{kind} name {name!r} would be {full} characters, over AWS's {limit}: "
                "use shorter names (topology, VPC or link)",
            )
        if kind == "ssm parameter" and name.count("/") > names.SSM_LEVELS:
            yield Problem(key, f"ssm parameter {name!r} has more than {names.SSM_LEVELS} levels")
    # IAM names are unique per account regardless of case; lower-casing is harmless elsewhere
    count = Counter((kind, where, name.lower()) for _, kind, where, name in derived if where)
    for key, kind, where, name in derived:
        if where and count[kind, where, name.lower()] > 1:
            yield Problem(key, f"{kind} name {name!r} is derived twice in {where}: rename one")


def _ssm_arn_length(name: str) -> int:
    """SSM's 1011 counts the parameter's ARN prefix too (the longest region, 12-digit ID)."""
    longest = max(len(r) for p in PARTITIONS.values() for r in p.regions)
    return len(f"arn:aws-us-gov:ssm:{'x' * longest}:{ACCOUNT_ID}:parameter") + len(name)


# ------------------------------------------------------------------ tags


def _tag_sets(intent: Intent) -> Iterator[tuple[str, dict[str, str]]]:
    """(key, tags) for the objects with the longest names and the most tags apply writes."""
    topo = intent.topology
    for g in intent.design.gateways:
        yield f"vpcs.{g.vpc}", names.tags(topo, names.gateway_group(g.name))
        yield f"vpcs.{g.vpc}", names.tags(topo, g.name, **{names.DIGEST_TAG: "0" * 16})
    for table in intent.design.route_tables:
        yield f"vpcs.{table.vpc}", names.tags(topo, table.name, **{names.VPC_TAG: table.vpc})
    for tunnel in intent.design.tunnels:
        for parameter in parameter_names(topo, tunnel):
            yield (
                f"links.{tunnel.link}",
                names.tags(topo, parameter, **{"vpnctl:tunnel": tunnel.name}),
            )


def tag_problems(intent: Intent) -> Iterator[Problem]:
    for key, tags in _tag_sets(intent):
        if len(tags) > names.TAGS_PER_RESOURCE:
            yield Problem(key, f"{len(tags)} tags, over AWS's {names.TAGS_PER_RESOURCE}")
        for k, v in tags.items():
            if len(k) > names.TAG_KEY or len(v) > names.TAG_VALUE:
                yield Problem(
                    key,
                    f"tag {k}={v!r} is over AWS's {names.TAG_KEY}-character key or "
                    f"{names.TAG_VALUE}-character value: use shorter names",
                )


# ------------------------------------------------------------------ policies


def policy_problems(intent: Intent) -> Iterator[Problem]:
    for g in intent.design.gateways:
        found = size(gateway_policy(intent, g, ACCOUNT_ID))
        if found > ROLE_POLICY:
            tunnels = len(intent.design.tunnels_by_gateway[g.name])
            yield Problem(
                f"vpcs.{g.vpc}",
                f"gateway {g.name}'s IAM role policy would be {found:,} characters, over IAM's "
                f"{ROLE_POLICY:,} for a role's inline policies (it has {tunnels} tunnels): link "
                f"fewer VPCs through {g.vpc}, e.g. split the hub in two",
            )
    for partition in sorted(set(intent.partitions.values())):
        found = size(trust_policy(partition))
        if found > TRUST_POLICY:  # constant today; kept so a longer one cannot slip in
            yield Problem(
                "accounts", f"trust policy is {found:,} characters, over {TRUST_POLICY:,}"
            )
    for account in sorted({a for a, _ in hooks.regions(intent)}):
        found = size(hooks.policy(intent, account, ACCOUNT_ID))
        if found > ROLE_POLICY:
            yield Problem(
                f"accounts.{account}",
                f"the failover hook's IAM role policy would be {found:,} characters, over IAM's "
                f"{ROLE_POLICY:,}",
            )


# ------------------------------------------------------------------ user-data


def _widest(design: Design) -> Iterator[Gateway]:
    """One gateway per distinct tunnel count, the one with the most routes in its VPC.

    User-data grows with a gateway's tunnels (a config and a key set each) and, far less, with
    its VPC's routes; rendering one gateway per tunnel count keeps plan fast on a 5,000-VPC hub
    (a render takes tens of milliseconds). ``artifacts.intent`` renders every gateway before
    apply changes anything and refuses the same way.
    """
    routes: dict[str, int] = {}
    for table in design.route_tables:
        routes[table.vpc] = routes.get(table.vpc, 0) + len(table.destinations)
    best: dict[int, Gateway] = {}
    for g in design.gateways:
        count = len(design.tunnels_by_gateway[g.name])
        have = best.get(count)
        if have is None or routes.get(g.vpc, 0) > routes.get(have.vpc, 0):
            best[count] = g
    return iter(best.values())


def userdata_problems(topology: Topology, design: Design) -> Iterator[Problem]:
    for g in _widest(design):
        problem = userdata_problem(topology, design, g)
        if problem is not None:
            yield problem


def userdata_problem(topology: Topology, design: Design, gateway: Gateway) -> Problem | None:
    # Plan builds no software: a stand-in pin of the same length measures the same bytes.
    digest = "0" * 64
    software = render.Pin(store.software_key(topology.name, digest), digest)
    try:
        render.launch_userdata(topology, design, gateway.name, software)
    except render.UserDataTooLarge as exc:
        tunnels = len(design.tunnels_by_gateway[gateway.name])
        return Problem(
            f"vpcs.{gateway.vpc}",
            f"gateway {gateway.name}: {exc} (it carries the configs of its {tunnels} tunnels): "
            f"link fewer VPCs through {gateway.vpc}, e.g. split the hub in two",
        )
    return None
