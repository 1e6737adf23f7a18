"""Running a node in production: health and readiness, Prometheus metrics, request ids and
structured logs, snapshots of the operating figures and the admin's dashboard, backups.

``node.ops.wiring.install(app, state)`` wires the routes, request hooks and the snapshot worker job.
"""
