#!/bin/bash
# vpnctl gateway boot: make this instance a working gateway, or report it unhealthy.
#
# Runs at every boot from vpnctl-boot.service, with /etc/vpnctl/gateway.env in the environment.
# Every step is idempotent. If any step fails, the failure is logged (journal and console), the
# instance marks itself unhealthy with its Auto Scaling group so it is replaced, and no tunnel
# starts: a half-configured gateway must not attract traffic.
set -euo pipefail

lib=/usr/local/lib/vpnctl
state=/var/lib/vpnctl
step="starting"

log() {
    echo "vpnctl-boot: $*"
    echo "vpnctl-boot: $*" >/dev/console 2>/dev/null || true
}

failed() {
    local reason="$step failed (exit $1, line $2)"
    trap - ERR
    log "FAILED: $reason"
    mkdir -p "$state"
    echo "unhealthy: $reason" >"$state/health"
    if ! python3 "$lib/gateway_aws.py" unhealthy "$reason"; then
        # Without the API the Auto Scaling EC2 health check still sees a stopped instance.
        log "could not report to Auto Scaling; powering off so the instance is replaced"
        systemctl poweroff
    fi
    exit 1
}
trap 'failed $? $LINENO' ERR

# Retry a command that depends on the network or on IAM credentials not yet propagated.
retry() {
    local attempt
    for attempt in 1 2 3 4 5 6 7 8 9 10; do
        if "$@"; then
            return 0
        fi
        log "$step: attempt $attempt failed; retrying"
        sleep $((attempt * 3))
    done
    return 1
}

step="checking installed tools"
for tool in openvpn nft python3 chronyc ip; do
    command -v "$tool" >/dev/null
done
python3 -c "import boto3"

step="fetching the vpnctl software and this gateway's configuration (pinned by sha256)"
retry python3 "$lib/gateway_aws.py" fetch

step="enabling forwarding (sysctl)"
sysctl -q -p /etc/sysctl.d/90-vpnctl.conf

step="routing the VPC through its router"
# A tunnel route may summarise a block that covers this VPC (10.64.0.0/12 around 10.70.0.0/16):
# the more specific route keeps the VPC itself reachable through the VPC router.
iface=$(ip -4 route show default | awk '{ print $5; exit }')
[[ -n "$iface" ]]
ip route replace "$VPNCTL_VPC_CIDR" via "$VPNCTL_VPC_ROUTER" dev "$iface"

step="loading the firewall"
nft -f /etc/vpnctl/firewall.nft

step="fetching tunnel keys from SSM"
retry python3 "$lib/gateway_aws.py" keys

step="associating the Elastic IP"
retry python3 "$lib/gateway_aws.py" elastic-ip

step="disabling the source/destination check"
retry python3 "$lib/gateway_aws.py" source-dest-check

step="starting the tunnels"
mkdir -p /run/vpnctl
python3 "$lib/gateway_aws.py" tunnels >/run/vpnctl/tunnels
while read -r tunnel; do
    systemctl start --no-block "vpnctl-openvpn@${tunnel}.service"
done </run/vpnctl/tunnels

step="starting the agent"
# It measures the tunnels and siblings, publishes the figures (LossPercent for the backstop
# alarms), tags the instance ready, and converges to /var/lib/vpnctl/desired (laid out by
# fetch). Enabled so later boots start it too, after this script (its unit is ordered so);
# --no-block: this script is what it waits for.
systemctl enable vpnctl-agent.service
systemctl start --no-block vpnctl-agent.service

mkdir -p "$state"
echo "healthy" >"$state/health"
log "gateway $VPNCTL_GATEWAY ready"
