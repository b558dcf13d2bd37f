NAMESPACE = "vpnctl"
TUNNEL_UP = "TunnelUp"  # 1 = UP, 0 = DOWN, as the agent's health state machine holds it
SIBLING_UP = "SiblingUp"  # 1/0: a sibling gateway (same VPC, other AZ) answers on its VPC address
# Dimensions: TunnelUp {"Topology", "Gateway" (the one that measured), "Tunnel"};
#             SiblingUp {"Topology", "Gateway" (the one that measured), "Sibling" (gateway name)}.
# Published with StorageResolution=1 at least every PUBLISH_S seconds by a running agent.
PUBLISH_S = 10
EVENT_SOURCE = "vpnctl.agent"
EVENT_DETAIL_TYPE = "vpnctl gateway health"
# Event Detail: {"topology": str, "gateway": str (who saw it), "instance_id": str,
#                "kind": "tunnel" | "sibling" | "ready", "name": str (tunnel / sibling / config digest),
#                "state": "UP" | "DOWN" (for "ready": "UP"), "at": float unix time}
# PutEvents in the gateway's own region on every UP/DOWN transition and when it becomes ready.
READY_TAG = "vpnctl:ready"  # instance tag the agent sets on ITS OWN instance (ec2:CreateTags)
# to the config digest it runs, once converged and every tunnel UP
GRACE_S = 30  # evidence older than this is silence, and silence is not health
