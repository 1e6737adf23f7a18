"""The services plugged into a node after its pages and API: federation, matchmaking, email.

Each ``install`` sets its field on the :class:`~node.state.NodeState` and wires listeners
(domain events), worker jobs and blueprints. Kept in one place so the order is explicit:
federation first (matchmaking listens to what federation stores).
"""

from __future__ import annotations

from flask import Flask

from node.state import NodeState


def install(app: Flask, state: NodeState) -> None:
    """Federation (ActivityPub routes, publishing listeners, worker jobs); matchmaking next."""
    from node import ap
    from node.ap import inbox, service
    from node.web import admin_federation

    service.install(state)
    for blueprint in ap.blueprints():
        app.register_blueprint(blueprint)
    app.register_blueprint(admin_federation.bp)
    # Servers POST to inboxes: no form, no session, no CSRF token (HTTP signatures instead).
    app.extensions["csrf"].exempt(inbox.bp)
    # ... and POSTs to the shared inbox skip Flask's request pipeline altogether.
    app.wsgi_app = inbox.SharedInboxPath(app.wsgi_app, state)  # type: ignore[method-assign]

    # Matchmaking after federation: its listener then sees what federation's handlers stored.
    from node import match_service
    from node.web import matches

    match_service.install(state)
    app.register_blueprint(matches.bp)

    # Email (queue, worker job, unsubscribe and admin pages): used by the features above.
    from node import mail

    mail.install(app, state)

    # Collaboration email (notifications, digest): after mail, which it sends through.
    from node import collab_mail

    collab_mail.install(app, state)
    # A member's own account: export, deletion, the avatar-file listener, scheduled erasure.
    from node.web import account

    account.install(app, state)
