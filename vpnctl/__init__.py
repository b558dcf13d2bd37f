"""vpnctl: VPC interconnects over OpenVPN gateways, planned from one topology file."""

__version__ = "0.1.0"
