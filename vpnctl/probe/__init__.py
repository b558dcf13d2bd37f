"""Link probes: latency and loss, measured from the inside of every tunnel.

One run reads as a pipeline, each step its own module:

    targets ─▶ session (echoes on schedule, one socket) ─▶ measure (figures per target)
            ─▶ verdict (OK/WARNING/CRITICAL/UNKNOWN from thresholds)
            ─▶ health (DOWN/UP across runs, from a small state file)
            ─▶ report ─▶ formats (text, json, nagios, prometheus) / cloudwatch

Only ``transport`` touches sockets and only ``cloudwatch`` touches AWS (through a client passed
in); everything else is pure and is tested with a fake echo transport and a fake clock. Probes
return data and never decide routes: the failover hook reads the health state they report.
"""
