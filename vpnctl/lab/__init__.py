"""vpnctl lab: the whole topology in network namespaces on this machine, with real OpenVPN."""
