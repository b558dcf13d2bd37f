"""What each string of a topology or lock file may look like: one pattern per consumer.

Every string that reaches an AWS name, a rendered config or a command line is checked with
``fullmatch`` against what that consumer accepts. ``re.match(r"...$")`` is not enough: ``$``
also matches before a final newline, so ``"sproutling\\n"`` would pass and split a user-data
line. Each pattern is written without anchors and used only through ``valid``.
"""

from __future__ import annotations

import re

# topology, account and VPC names: they prefix every AWS name and tag vpnctl makes. No "--":
# that joins a tunnel's two ends (vpnctl.tunnels), so "a--b-a--c-a" would name two tunnels.
NAME = re.compile(r"(?!.*--)[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?")
NAME_RULE = "[a-z0-9-], 1 to 32 characters, no '--'"
# a Route53 zone: labels of [a-z0-9-], 253 characters in all, an optional final dot
DNS_NAME = re.compile(r"(?=.{1,253}\.?\Z)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}\.?")
REGION = re.compile(r"[a-z]{2}(?:-gov)?-[a-z]+-\d+")
# what follows the region in an AZ name: us-west-2a, or a Local Zone's us-west-2-lax-1a
# (AWS Local Zones user guide, "Local Zone names": <region>-<location>-<n><letter>): single
# hyphens only, since the suffix is part of gateway and tunnel names (see NAME)
AZ_SUFFIX = re.compile(r"[a-z]|-(?:[a-z0-9]+-)*[a-z0-9]*[a-z]")
VPC_ID = re.compile(r"vpc-[0-9a-f]{8,17}")
AMI = re.compile(r"ami-[0-9a-f]{8,17}")
INSTANCE_TYPE = re.compile(r"[a-z][a-z0-9-]*\.[a-z0-9]+")
# The shape of an image key (ubuntu-24.04, debian-12, amazon-linux-2023); which keys exist is
# vpnctl.images' table, checked at plan with the nearest key as a hint.
IMAGE_KEY = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+(?:\.[0-9]+)?)+")
# An apt mirror or pip index. It lands unquoted in cloud-config and double-quoted in a shell
# environment file, so only URL characters neither reads specially: no quote, space, `$`, `\`,
# backtick, `#`, control character or NUL. Scheme, optional user, host, optional port, path.
URL = re.compile(
    r"https?://(?:[A-Za-z0-9._~%-]+(?::[A-Za-z0-9._~%-]*)?@)?"
    r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::\d{1,5})?(?:/[A-Za-z0-9._~%/+=:@-]*)?"
)
# a requirement pip understands and a shell cannot misread: name, version specifiers, or a URL
# an AWS shared-config profile name, as boto3 is given it (letters, digits and _.+=@-)
PROFILE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+=@-]{0,127}")
# an AZ's part of a gateway or tunnel name: "a" for us-west-2a, "lax-1a" for a Local Zone
AZ_PART = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


def valid(pattern: re.Pattern[str], value: str) -> bool:
    """True when all of ``value``, to its last character, is of ``pattern``'s form."""
    return pattern.fullmatch(value) is not None
