"""Collaboration across coops (issue 9): responses, decisions, invitations, private messages,
notifications. No Flask. The wire side lives in :mod:`profiles.ap.collab`.

Services take the Session first; callers commit; every change emits a
:class:`~profiles.collab.events.Change` (``events.COLLAB``) in the same transaction, and every
new notification ``events.NOTIFIED``. Errors are :mod:`profiles.errors` (404/403/409/422).
"""

from __future__ import annotations

from profiles.collab.models import (
    Invitation,
    MemberConsent,
    Message,
    Notification,
    Response,
)
from profiles.collab.notifications import list_notifications, mark_read, notify, unread_count
from profiles.collab.responses import (
    ResponseData,
    TeamEntry,
    decide,
    get_response,
    is_party,
    mark_seen,
    needs_consent,
    respond,
    responses_for_call,
    responses_of,
    set_call_options,
    team,
    withdraw,
)
from profiles.collab.text import text_to_html
from profiles.collab.threads import (
    cancel_invitation,
    decline_invitation,
    get_invitation,
    invitations_for_call,
    invitations_of,
    invite,
    mark_thread_read,
    parties,
    send_message,
    thread_messages,
)

__all__ = [
    "Invitation",
    "MemberConsent",
    "Message",
    "Notification",
    "Response",
    "ResponseData",
    "TeamEntry",
    "cancel_invitation",
    "decide",
    "decline_invitation",
    "get_invitation",
    "get_response",
    "invitations_for_call",
    "invitations_of",
    "invite",
    "is_party",
    "list_notifications",
    "mark_read",
    "mark_seen",
    "mark_thread_read",
    "needs_consent",
    "notify",
    "parties",
    "respond",
    "responses_for_call",
    "responses_of",
    "send_message",
    "set_call_options",
    "team",
    "text_to_html",
    "thread_messages",
    "unread_count",
    "withdraw",
]
