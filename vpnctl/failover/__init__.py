"""The failover hook: events in, route tables moved to healthy gateways.

``events`` reads the AWS event shapes, ``decision`` chooses gateways (pure), and the hook
wires them to AWS.
"""
