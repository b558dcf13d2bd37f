"""AWS calls made by ``vpnctl apply``, by kind, against a moto server: a benchmark, not a test.

For topologies/china-hub.yaml and generated 20- and 60-VPC hub topologies (four regions) it
prints the calls of a first apply, a no-op apply and an apply after one route was deleted by
hand, with wall times, and the first apply's calls per VPC. The target: a no-op apply only
reads, a constant number of reads per account and region; 60 VPCs is past every page limit
of the emulator (15 launch templates per describe).

    python benchmarks/apply_calls.py [--hubs 20 60]
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import boto3
from click.testing import CliRunner
from moto.server import ThreadedMotoServer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout, run as a script

from benchmarks.hubs import hub_topology
from vpnctl.aws import convergence, sandbox
from vpnctl.aws.factory import Factory
from vpnctl.cli.apply import apply

ROOT = Path(__file__).resolve().parents[1]


def run(url: str, path: Path) -> tuple[Counter[str], float, int, int]:
    """By kind, the calls, wall time, account/regions touched and the calls of the wait for the
    gateways to converge (polls for as long as boots take; under an emulator no agent reports,
    so as many as the wait's limit allows)."""
    factory = Factory(sleep=lambda _s: None)
    start = time.perf_counter()
    result = CliRunner().invoke(apply, [str(path), "--yes", "--endpoint-url", url], obj=factory)
    elapsed = time.perf_counter() - start
    if result.exit_code != 0:
        raise SystemExit(f"apply failed: {result.output}\n{result.exception!r}")
    regions = len({(c.account, c.region) for c in factory.log.calls})
    waited = len(factory.log.made_in(convergence.PHASE))
    return factory.log.by_kind(), elapsed, regions, waited


def drift_one_route(url: str, region: str, topology: str) -> None:
    ec2 = boto3.session.Session(aws_access_key_id="x", aws_secret_access_key="x").client(
        "ec2", region_name=region, endpoint_url=url
    )
    tables = ec2.describe_route_tables(
        Filters=[{"Name": "tag:vpnctl:topology", "Values": [topology]}]
    )["RouteTables"]
    for table in tables:
        for route in table["Routes"]:
            if route.get("NetworkInterfaceId"):
                ec2.delete_route(
                    RouteTableId=table["RouteTableId"],
                    DestinationCidrBlock=route["DestinationCidrBlock"],
                )
                return


def report(
    name: str, phase: str, calls: Counter[str], elapsed: float, regions: int, waited: int
) -> None:
    mutating = sum(
        n for k, n in calls.items() if not k.split(":")[1].startswith(("Describe", "List", "Get"))
    )
    print(f"### {name}: {phase}")
    print(
        f"{sum(calls.values())} calls ({mutating} mutating, lock included; {waited} of them the "
        f"wait's polls for converged gateways), {regions} account/regions touched, "
        f"{elapsed:.2f} s wall"
    )
    print()
    print("| calls | kind |")
    print("|---:|---|")
    for kind, n in sorted(calls.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"| {n} | {kind} |")
    print()


def bench(url: str, name: str, path: Path, topology: str, region: str, vpcs: int) -> None:
    first = run(url, path)
    report(name, "first apply", *first)
    total, waited = sum(first[0].values()), first[3]
    print(f"first apply: {total / vpcs:.1f} calls per VPC, {(total - waited) / vpcs:.1f} "
          "without the wait's polls")  # fmt: skip
    print()
    report(name, "no-op apply", *run(url, path))
    drift_one_route(url, region, topology)
    report(name, "apply after one route drifted", *run(url, path))


def emulate_aws_rules() -> None:
    """The moto corrections the sandbox and the functional tests make (see there why)."""
    sandbox.emulate_aws()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hubs", type=int, nargs="*", default=[20, 60], help="hub sizes")
    parser.add_argument("--no-china", action="store_true", help="skip china-hub.yaml")
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    emulate_aws_rules()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    home = Path(tempfile.mkdtemp(prefix="vpnctl-bench-"))
    creds = home / "credentials"
    creds.write_text(
        "[default]\naws_access_key_id=x\naws_secret_access_key=x\n"
        "[china]\naws_access_key_id=x\naws_secret_access_key=x\n"
    )
    import os

    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = str(creds)
    os.environ["AWS_CONFIG_FILE"] = str(home / "none")
    try:
        if not args.no_china:
            hub = home / "china-hub.yaml"
            shutil.copy(ROOT / "topologies" / "china-hub.yaml", hub)
            name = "china-hub.yaml (3 VPCs, 2 partitions)"
            bench(url, name, hub, "sproutling", "us-west-2", 3)
        for vpcs in args.hubs:
            path = home / f"bench{vpcs}.yaml"
            path.write_text(hub_topology(f"bench{vpcs}", vpcs))
            name = f"generated {vpcs} VPCs (4 regions, hub)"
            bench(url, name, path, f"bench{vpcs}", "us-west-2", vpcs)
    finally:
        server.stop()
        shutil.rmtree(home, ignore_errors=True)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
