"""Optional services plugged into a node after the core blueprints: federation, matchmaking,
email.

Each ``install`` wires listeners (domain events), worker jobs and blueprints. Kept in one place
so the order is explicit: federation first (matchmaking listens to what federation stores).
"""

from __future__ import annotations

from flask import Flask

from node.state import NodeState


def install(app: Flask, state: NodeState) -> None:
    """Federation (ActivityPub routes, publishing listeners, worker jobs); matchmaking next."""
    from node import federation
    from node.views import admin_federation, ap

    federation.install(state)
    app.register_blueprint(ap.bp)
    app.register_blueprint(admin_federation.bp)
    csrf = app.extensions["csrf"]
    for view in ap.INBOX_VIEWS:
        csrf.exempt(view)

    # Matchmaking after federation: its listener then sees what federation's handlers stored.
    from node import matching
    from node.views import matching as matching_views

    matching.install(state)
    app.register_blueprint(matching_views.bp)

    # Email (queue, worker job, unsubscribe and admin pages): used by the features above.
    from node import mail

    mail.install(app, state)
