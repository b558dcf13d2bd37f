#!/bin/bash
# vpnctl probe hook, run every minute by vpnctl-probe.timer.
#
# Measures this gateway's tunnels with `vpnctl probe --spec /etc/vpnctl/probe.json` (the plan
# `vpnctl render` wrote: targets, thresholds, up/down policy) and publishes the figures to
# CloudWatch in this gateway's region, where its failover alarm watches them. vpnctl runs from
# its own virtualenv, installed here on first use from $VPNCTL_PIP_REQUIREMENT (and
# $VPNCTL_PIP_INDEX, e.g. a mirror inside the partition); if that fails the hook says so and
# tries again next minute: tunnels never depend on it. VPNCTL_PROBE_COMMAND (in gateway.env)
# replaces the command entirely.
set -euo pipefail

venv=/opt/vpnctl
plan=/etc/vpnctl/probe.json
state=/var/lib/vpnctl/probe-state.json

if [[ -n "${VPNCTL_PROBE_COMMAND:-}" ]]; then
    exec /bin/sh -c "$VPNCTL_PROBE_COMMAND"
fi

install_vpnctl() {
    local index=()
    if [[ -n "${VPNCTL_PIP_INDEX:-}" ]]; then
        index=(--index-url "$VPNCTL_PIP_INDEX")
    fi
    python3 -m venv "$venv.new" &&
        "$venv.new/bin/pip" install --quiet "${index[@]}" "${VPNCTL_PIP_REQUIREMENT:-vpnctl}" &&
        rm -rf "$venv" && mv "$venv.new" "$venv"
}

if [[ ! -x "$venv/bin/vpnctl" ]]; then
    rm -rf "$venv.new"
    if ! install_vpnctl; then
        rm -rf "$venv.new"
        echo "vpnctl-probe: skipped: cannot install ${VPNCTL_PIP_REQUIREMENT:-vpnctl} yet; retrying next run"
        exit 0
    fi
fi
mkdir -p "$(dirname "$state")" /run/vpnctl
status=0
"$venv/bin/vpnctl" probe --spec "$plan" --cloudwatch --region "$VPNCTL_REGION" \
    --state "$state" --format json >/run/vpnctl/probe.json.new || status=$?
mv /run/vpnctl/probe.json.new /run/vpnctl/probe.json
# 1: it could not probe at all; 2: it refused its input. Measured results never fail the hook.
if [[ "$status" -eq 1 || "$status" -eq 2 ]]; then
    echo "vpnctl-probe: the probe did not run (status $status); see the journal and $plan"
fi
exit 0
