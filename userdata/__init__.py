"""What a gateway instance runs: cloud-init template, systemd units and boot scripts.

Installed as the ``vpnctl.userdata`` package so ``vpnctl render`` finds these files wherever
vpnctl is installed. The shell scripts and units here are copied onto the gateway verbatim
(and checked by shellcheck as they are); only the ``*.j2`` files are templates.
"""
