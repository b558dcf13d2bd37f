#!/bin/bash
# vpnctl probe hook, run every minute by vpnctl-probe.timer.
#
# Measures this gateway's tunnels with `vpnctl probe --spec /etc/vpnctl/probe.json` (the plan
# `vpnctl render` wrote: targets, thresholds, up/down policy) and publishes the figures to
# CloudWatch in this gateway's region, where its failover alarm watches them. vpnctl is the
# zipapp boot.sh fetched from the artifact bucket and checked against the sha256 user-data pins;
# nothing is installed from a package index. Until it is there the hook says so and tries again
# next minute: tunnels never depend on it. VPNCTL_PROBE_COMMAND (in gateway.env) replaces the
# command entirely.
set -euo pipefail

vpnctl=/usr/local/lib/vpnctl/vpnctl.pyz
plan=/etc/vpnctl/probe.json
state=/var/lib/vpnctl/probe-state.json

if [[ -n "${VPNCTL_PROBE_COMMAND:-}" ]]; then
    exec /bin/sh -c "$VPNCTL_PROBE_COMMAND"
fi

if [[ ! -f "$vpnctl" || ! -f "$plan" ]]; then
    echo "vpnctl-probe: skipped: $vpnctl or $plan is not installed yet (boot.sh fetches them)"
    exit 0
fi
mkdir -p "$(dirname "$state")" /run/vpnctl
status=0
python3 "$vpnctl" probe --spec "$plan" --cloudwatch --region "$VPNCTL_REGION" \
    --state "$state" --format json >/run/vpnctl/probe.json.new || status=$?
mv /run/vpnctl/probe.json.new /run/vpnctl/probe.json
# 1: it could not probe at all; 2: it refused its input. Measured results never fail the hook.
if [[ "$status" -eq 1 || "$status" -eq 2 ]]; then
    echo "vpnctl-probe: the probe did not run (status $status); see the journal and $plan"
fi
exit 0
