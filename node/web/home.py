"""The home page (latest calls, or the member's own), the about page and the favicon."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, current_app, render_template, send_from_directory
from sqlalchemy import func, select

from node.web import current_member, db
from profiles import calls as call_service
from profiles.models import Call, Member, NodeMeta
from profiles.vocabulary import ESCO_VERSION_KEY, curated_path, load_curated_file

bp = Blueprint("home", __name__)


@bp.route("/")
def home() -> Any:
    me = current_member()
    if me is None:
        latest, _total = call_service.list_calls(db(), None, call_service.CallQuery(per_page=5))
        return render_template("home.html", latest=latest, my_calls=[])
    mine, _total = call_service.list_calls(
        db(), me, call_service.CallQuery(author_id=me.id, status=None, per_page=10)
    )
    # First run: without skills nothing can be matched; say so before the empty panels.
    steps = {"skills": not me.skills, "availability": not me.availability, "call": not mine}
    return render_template(
        "home.html", latest=[], my_calls=mine, first_run=steps if steps["skills"] else None
    )


def _esco_version() -> str:
    meta = db().get(NodeMeta, ESCO_VERSION_KEY)
    if meta and meta.value:
        return meta.value
    return _curated_version(str(curated_path()))


def _curated_version(path: str) -> str:
    try:
        return str(load_curated_file(Path(path)).get("esco_version", ""))
    except (OSError, ValueError):
        return ""


@bp.route("/about")
def about() -> Any:
    session_ = db()
    members = session_.scalar(select(func.count(Member.id)).where(Member.local)) or 0
    open_calls = (
        session_.scalar(select(func.count(Call.id)).where(Call.local, Call.status == "open")) or 0
    )
    return render_template(
        "about.html", members=members, open_calls=open_calls, esco_version=_esco_version()
    )


@bp.route("/favicon.ico")
def favicon() -> Any:
    # Pages link the SVG icon; feed readers and old clients still ask for /favicon.ico.
    static = Path(current_app.static_folder or "")
    return send_from_directory(static, "favicon.svg", mimetype="image/svg+xml", max_age=86400)
