#!/bin/bash
# vpnctl probe hook, run every minute by vpnctl-probe.timer.
#
# Measures this gateway's tunnels with `vpnctl probe TOPOLOGY --cloudwatch` when vpnctl and the
# topology are installed on the gateway (/etc/vpnctl/topology.yaml and its lock file), so the
# failover alarms have data. Until then it logs that it skipped and succeeds, so the timer
# stays quiet. VPNCTL_PROBE_COMMAND (in gateway.env) replaces the command entirely.
set -euo pipefail

topology=/etc/vpnctl/topology.yaml

if [[ -n "${VPNCTL_PROBE_COMMAND:-}" ]]; then
    exec /bin/sh -c "$VPNCTL_PROBE_COMMAND"
fi
if ! command -v vpnctl >/dev/null 2>&1 || [[ ! -r "$topology" ]]; then
    echo "vpnctl-probe: skipped: vpnctl or $topology is not installed on this gateway"
    exit 0
fi
exec vpnctl probe "$topology" --cloudwatch
