"""Collaboration in the JSON API, for the parties only (issue 9):

- ``GET /api/v1/me/responses``: the signed-in member's own responses;
- ``GET /api/v1/me/notifications?unread=1&limit=50&offset=0``: their notifications;
- ``GET /api/v1/calls/<public_id>/responses``: a call's responses, for its author (or an
  admin of this node).

Anonymous callers and anyone else get 403; nothing of it is ever listed elsewhere.
"""

from __future__ import annotations

from flask import Blueprint, abort

from node.api import PREFIX, Param, bool_arg, int_arg, operation, path_param
from node.api import schemas as s
from node.web import current_member, db
from profiles import calls as call_service
from profiles import collab
from profiles.errors import PermissionDenied
from profiles.models import Member

bp = Blueprint("api_collab", __name__, url_prefix=PREFIX)


def _me() -> Member:
    member = current_member()
    if member is None:
        abort(403, "sign in first")
    return member


def _response(r: collab.Response) -> s.CollabResponse:
    return s.CollabResponse(
        id=r.id,
        ap_id=r.ap_id,
        call=r.call.ap_id,
        call_title=r.call.title,
        state=r.state,  # type: ignore[arg-type]
        origin=r.origin,  # type: ignore[arg-type]
        responder=r.responder_actor,
        responder_name=r.responder_name,
        message=r.message,
        skills=list(r.skills or []),
        available=r.available,
        available_note=r.available_note,
        rate=r.rate,
        links=list(r.links or []),
        decision_message=r.decision_message,
        created_at=r.created_at,
        state_at=r.state_at,
    )


@operation(
    bp,
    "/me/responses",
    operation_id="listMyResponses",
    summary="The signed-in member's responses to calls, newest first.",
    response=s.ResponseList,
    response_description="Responses",
    errors=(403,),
)
def my_responses() -> s.ResponseList:
    return s.ResponseList(results=[_response(r) for r in collab.responses_of(db(), _me())])


@operation(
    bp,
    "/me/notifications",
    operation_id="listMyNotifications",
    summary="The signed-in member's notifications, newest first.",
    response=s.NotificationList,
    response_description="Notifications and the unread count",
    params=(
        Param("unread", "Only unread ones", {"type": "boolean"}),
        Param("limit", "Most results", {"type": "integer", "minimum": 1, "maximum": 200}),
        Param("offset", "Skip this many", {"type": "integer", "minimum": 0}),
    ),
    errors=(400, 403),
)
def my_notifications() -> s.NotificationList:
    me = _me()
    rows = collab.list_notifications(
        db(),
        me,
        unread_only=bool(bool_arg("unread")),
        limit=int_arg("limit", 50, 1, 200),
        offset=int_arg("offset", 0, 0, 1_000_000),
    )
    return s.NotificationList(
        unread=collab.unread_count(db(), me),
        results=[
            s.Notification(
                id=n.id,
                kind=n.kind,  # type: ignore[arg-type]
                read=n.read_at is not None,
                created_at=n.created_at,
                call=n.call.ap_id if n.call is not None else None,
                call_title=n.call.title if n.call is not None else None,
                response_id=n.response_id,
                invitation_id=n.invitation_id,
                message_id=n.message_id,
            )
            for n in rows
        ],
    )


@operation(
    bp,
    "/calls/<public_id>/responses",
    operation_id="listCallResponses",
    summary="A call's responses, for its author (or an admin of this node).",
    response=s.ResponseList,
    response_description="Responses, newest first",
    params=(path_param("public_id", "The call's id in our URLs"),),
    errors=(403, 404),
)
def call_responses(public_id: str) -> s.ResponseList:
    me = _me()
    call = call_service.get_by_public_id(db(), public_id)
    if not call_service.can_view(call, me):
        abort(404, "no such call")
    try:
        rows = collab.responses_for_call(db(), call, me)
    except PermissionDenied:
        abort(403, "only the call's author")
    return s.ResponseList(results=[_response(r) for r in rows])
