"""The gateway agent: a gateway runs the configuration of the current design, and says so.

apply writes each gateway's desired configuration (its tunnel configs, firewall, probe plan and
environment: the files ``vpnctl render`` writes for it) as one content-addressed bundle; the
agent, a long-running service on the gateway, makes the running gateway match it and records
the digest it runs. The pieces, in the order data flows:

    config    the desired configuration: relative path -> content; its digest (pure)
    plan      desired + what runs -> the fewest actions, unaffected tunnels untouched (pure)
    backend   how actions happen: systemd units on a gateway, processes in a lab namespace
    state     the agent's record of what it runs (digest, per-tunnel config, ready), atomic
    converge  one pass: read desired and running, plan, act, record (the only orchestration)

    health    the health loop: tunnels' far ends and sibling gateways probed run after run
              through the probe's UP/DOWN state machine (pure core, thin loop)
    publish   what the region is told: high-resolution figures, an EventBridge event per
              transition, the ready tag and event; every AWS call through one door

The two loops meet in ``vpnctl agent run``: converge runs on its own thread and hands every
pass's result (through ``converge.Observer``), with the configuration it ran, to the health
loop, which measures without pause. Names shared with the failover hook are in
``vpnctl.health_contract``.
"""
