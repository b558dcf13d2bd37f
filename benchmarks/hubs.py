"""Generated hub-and-spoke topologies for the AWS benchmarks: one account, four regions."""

from __future__ import annotations

REGIONS = ("us-east-1", "us-west-2", "eu-west-1", "ap-southeast-1")


def hub_topology(name: str, vpcs: int) -> str:
    """``vpcs`` VPCs of two AZs each, spread over REGIONS, every one linked to the first."""
    lines = [
        "version: 1",
        f"name: {name}",
        "accounts:",
        "  main: {partition: aws}",
        "dns: {zone: vpn.bench.example.com, account: main}",
        "addressing: {pool: 10.0.0.0/8, vpc_prefix: 18}",
        "vpcs:",
    ]
    for i in range(vpcs):
        region = REGIONS[i % len(REGIONS)]
        lines.append(
            f"  v{i:02d}: {{account: main, region: {region}, azs: [{region}a, {region}b]}}"
        )
    lines.append("links: {hub: v00}")
    return "\n".join(lines) + "\n"
