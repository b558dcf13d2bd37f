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

Health (probing tunnels and siblings, publishing figures and UP/DOWN events) joins through
``converge.Observer``: every pass hands its result to the observers it was given.
"""
