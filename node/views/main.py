"""The member web UI: home, directory, member pages, profile editing, project calls, about.

Every page works without JavaScript. Views parse the request (``node.forms``), call one service
from ``profiles`` and map its errors: ValidationError re-renders the form (422) with what the
member typed, PermissionDenied/NotFound go to the app's error pages (403/404).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_from_directory,
    session,
    url_for,
)
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from node import forms
from node.i18n import current_language
from node.settings import UI_LANGUAGES
from node.web import ctx, current_member, db, login_required, state, vocab
from profiles import calls as call_service
from profiles import members as member_service
from profiles.errors import ValidationError
from profiles.models import Call, Member, NodeMeta
from profiles.vocabulary import ESCO_VERSION_KEY, curated_path, load_curated_file

bp = Blueprint("main", __name__)

PER_PAGE = 20
FIND_LIMIT = 8


# --- template helpers ------------------------------------------------------------------------


@bp.app_template_global()
def concept_label(iri: str) -> str:
    return vocab().label(iri, current_language())


@bp.app_template_global()
def country_name(code: str) -> str:
    return forms.country_name(code, current_language())


@bp.app_template_global()
def language_name(code: str) -> str:
    return forms.language_name(code, current_language())


@bp.app_template_global()
def avatar_url(member: Member) -> str | None:
    if not member.avatar:
        return None
    if member.avatar.startswith(("https://", "http://")):
        return member.avatar  # a partner's member: their node serves it
    return url_for("main.avatar", name=member.avatar)


@bp.app_template_global()
def member_url(member: Member) -> str:
    return url_for("main.member", username=member.username if member.local else member.handle)


@bp.app_template_global()
def page_url(page: int) -> str:
    """The current page's URL with another ``page`` parameter (filters kept)."""
    args = request.args.copy()
    args["page"] = str(page)
    return url_for(request.endpoint or "main.home", **request.view_args or {}, **args)


def _pages(total: int, per_page: int = PER_PAGE) -> int:
    return max(1, math.ceil(total / per_page))


def _avatar_folder() -> Path:
    return Path(current_app.instance_path) / "avatars"


def _coops() -> list[tuple[str, str]]:
    """(node domain, coop name) of every coop we know members of: filter choices."""
    rows = db().execute(select(Member.node, func.max(Member.coop_name)).group_by(Member.node)).all()
    return sorted(((n, c or n) for n, c in rows), key=lambda p: p[1].casefold())


# --- home, about -------------------------------------------------------------------------------


@bp.route("/")
def home() -> Any:
    me = current_member()
    if me is None:
        latest, _total = call_service.list_calls(db(), None, call_service.CallQuery(per_page=5))
        return render_template("home.html", latest=latest, my_calls=[])
    mine, _total = call_service.list_calls(
        db(), me, call_service.CallQuery(author_id=me.id, status=None, per_page=10)
    )
    return render_template("home.html", latest=[], my_calls=mine)


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


# --- members -----------------------------------------------------------------------------------


@bp.route("/members/<username>")
def member(username: str) -> Any:
    """A member's page; ``name@node`` for members of partner coops."""
    name, _sep, node = username.partition("@")
    node = node or ctx().domain
    me = current_member()
    found = db().scalar(
        member_service.visible_members(me)
        .where(Member.node == node.lower(), Member.username == name.lower())
        .options(
            selectinload(Member.skills),
            selectinload(Member.occupations),
            selectinload(Member.languages),
            selectinload(Member.availability),
            selectinload(Member.links),
        )
    )
    if found is None:
        abort(404)
    their_calls, _total = call_service.list_calls(
        db(), me, call_service.CallQuery(author_id=found.id, per_page=50)
    )
    lang = current_language()
    return render_template(
        "member.html",
        member=found,
        skills=vocab().labels([c.concept_iri for c in found.skills], lang),
        occupations=vocab().labels([c.concept_iri for c in found.occupations], lang),
        calls=their_calls,
    )


@bp.route("/avatars/<name>")
def avatar(name: str) -> Any:
    if not forms.AVATAR_NAME.match(name):
        abort(404)
    response = send_from_directory(_avatar_folder(), name, max_age=86400)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _picker(
    stored: list[str], posted: list[str], found: list[forms.Choice] | None, lang: str
) -> dict[str, Any]:
    """A concept picker's state: known concepts (checked = kept) plus search suggestions."""
    voc = vocab()
    shown = list(dict.fromkeys([*posted, *stored]))
    choices = forms.concept_choices(voc, [i for i in shown if len(i) < 256], lang)
    for choice in choices:
        choice.checked = choice.iri in posted
    return {"choices": choices, "found": found}


def _find(text: str, kind: str, exclude: list[str], lang: str) -> list[forms.Choice]:
    if not text.strip():
        return []
    found = vocab().linker.link(text, lang=lang, kind=kind, limit=FIND_LIMIT)
    return forms.suggestion_choices(vocab(), found, lang, exclude)


def _render_profile(
    form: forms.ProfileForm,
    me: Member,
    found: dict[str, list[forms.Choice] | None],
    status: int = 200,
) -> Any:
    lang = current_language()
    stored = member_service.profile_data(me)
    return (
        render_template(
            "profile_edit.html",
            form=form,
            raw=form.raw,
            errors=form.errors,
            skills=_picker(stored.skills, form.data.skills, found.get("skill"), lang),
            occupations=_picker(
                stored.occupations, form.data.occupations, found.get("occupation"), lang
            ),
            countries=forms.country_choices(lang),
            languages=forms.language_choices(lang),
            levels=forms.level_choices(),
            empty_rows=forms.EMPTY_ROWS,
        ),
        status,
    )


@bp.route("/profile/edit", methods=["GET", "POST"])
@login_required
def edit_profile() -> Any:
    me = current_member()
    assert me is not None
    if request.method == "GET":
        data = member_service.profile_data(me)
        return _render_profile(forms.profile_form_from_member(data, me.ui_language), me, {})
    form = forms.parse_profile_form(request.form)
    action = request.form.get("action", "save")
    if action in ("find_skill", "find_occupation"):
        kind = action.removeprefix("find_")
        chosen = form.data.skills if kind == "skill" else form.data.occupations
        found = _find(form.raw[action], kind, chosen, current_language())
        return _render_profile(form, me, {kind: found})

    ui_language = form.raw["ui_language"]
    if ui_language and ui_language not in UI_LANGUAGES:
        form.errors["ui_language"] = _("Choose one of the offered languages.")
    new_avatar = None
    upload = request.files.get("avatar")
    if upload is not None and upload.filename:
        try:
            new_avatar = forms.save_avatar(
                upload, _avatar_folder(), state().settings.max_avatar_bytes
            )
        except forms.BadAvatar as exc:
            form.errors["avatar"] = str(exc)
    if form.errors:
        forms.remove_avatar_file(_avatar_folder(), new_avatar)
        return _render_profile(form, me, {}, 422)
    old_avatar = me.avatar
    if new_avatar:
        me.avatar = new_avatar
    elif request.form.get("remove_avatar"):
        me.avatar = None
    me.ui_language = ui_language or None
    session_ = db()
    try:
        member_service.update_profile(session_, me, form.data, vocab())
    except ValidationError as exc:
        session_.rollback()
        forms.remove_avatar_file(_avatar_folder(), new_avatar)
        form.errors.update(exc.errors)
        return _render_profile(form, me, {}, 422)
    session_.commit()
    if old_avatar != me.avatar:
        forms.remove_avatar_file(_avatar_folder(), old_avatar)
    if ui_language:
        session["lang"] = ui_language  # the explicit choice beats an earlier ?lang= switch
    flash(_("Your profile is saved."))
    return redirect(url_for("main.member", username=me.username))


# --- the directory -----------------------------------------------------------------------------


def _concept_filter(param: str, kind: str, lang: str) -> tuple[str | None, str, list[forms.Choice]]:
    """A directory concept filter: ``<param>=IRI``, or ``<param>_q=text`` linked to concepts.

    Returns (chosen IRI, typed text, radio choices). The best match is used until the member
    picks another one."""
    iri = request.args.get(param, "").strip() or None
    text = request.args.get(param + "_q", "").strip()[:200]
    choices: list[forms.Choice] = []
    if text:
        choices = _find(text, kind, [], lang)
        for choice in choices:
            choice.checked = False
        if iri is None and choices:
            iri = choices[0].iri
        for choice in choices:
            choice.checked = choice.iri == iri
    if iri and not any(c.iri == iri for c in choices):
        choices.insert(0, forms.Choice(iri, vocab().label(iri, lang), checked=True))
    return iri, text, choices


@bp.route("/directory")
def directory() -> Any:
    lang = current_language()
    errors: dict[str, str] = {}
    skill, skill_q, skill_choices = _concept_filter("skill", "skill", lang)
    occupation, occupation_q, occupation_choices = _concept_filter("occupation", "occupation", lang)
    args = request.args
    query = member_service.DirectoryQuery(
        skill=skill,
        occupation=occupation,
        country=args.get("country", "").strip() or None,
        language=args.get("language", "").strip() or None,
        available_from=forms.parse_date(args.get("available_from", ""), "available_from", errors),
        available_until=forms.parse_date(
            args.get("available_until", ""), "available_until", errors
        ),
        node=args.get("node", "").strip() or None,
        text=args.get("q", "").strip()[:100] or None,
        page=forms.page_number(args),
        per_page=PER_PAGE,
    )
    found, total = member_service.search_directory(db(), current_member(), query)
    return render_template(
        "directory.html",
        members=found,
        total=total,
        page=query.page,
        pages=_pages(total),
        errors=errors,
        skill_q=skill_q,
        skill_choices=skill_choices,
        occupation_q=occupation_q,
        occupation_choices=occupation_choices,
        countries=forms.country_choices(lang),
        languages=forms.language_choices(lang),
        coops=_coops(),
    ), (422 if errors else 200)


# --- project calls -----------------------------------------------------------------------------


@bp.route("/calls")
def calls() -> Any:
    args = request.args
    remote = {"yes": True, "no": False}.get(args.get("remote", ""))
    query = call_service.CallQuery(
        skill=args.get("skill", "").strip() or None,
        country=args.get("country", "").strip() or None,
        language=args.get("language", "").strip() or None,
        node=args.get("node", "").strip() or None,
        remote=remote,
        page=forms.page_number(args),
        per_page=PER_PAGE,
    )
    found, total = call_service.list_calls(db(), current_member(), query)
    lang = current_language()
    return render_template(
        "calls.html",
        calls=found,
        total=total,
        page=query.page,
        pages=_pages(total),
        skill=query.skill,
        countries=forms.country_choices(lang),
        languages=forms.language_choices(lang),
        coops=_coops(),
    )


def _visible_call(public_id: str) -> Call:
    call = call_service.get_by_public_id(db(), public_id)  # NotFound -> 404
    if not call_service.can_view(call, current_member()):
        abort(404)
    return call


def _may_edit(call: Call, me: Member | None) -> bool:
    return me is not None and call.local and (call.author_id == me.id or me.is_admin)


@bp.app_template_global()
def may_edit_call(call: Call) -> bool:
    return _may_edit(call, current_member())


@bp.route("/calls/<public_id>")
def call(public_id: str) -> Any:
    found = _visible_call(public_id)
    lang = current_language()
    return render_template(
        "call.html",
        call=found,
        required=vocab().labels(found.required_skills, lang),
        optional=vocab().labels(found.optional_skills, lang),
    )


def _render_call_form(
    form: forms.CallForm,
    existing: Call | None,
    found: dict[str, list[forms.Choice] | None],
    status: int = 200,
) -> Any:
    lang = current_language()
    stored_req = existing.required_skills if existing else []
    stored_opt = existing.optional_skills if existing else []
    other_languages = [c for c in form.raw["languages"] if c not in forms.EU_LANGUAGES]
    return (
        render_template(
            "call_form.html",
            call=existing,
            form=form,
            raw=form.raw,
            errors=form.errors,
            required=_picker(stored_req, form.data.skills_required, found.get("required"), lang),
            optional=_picker(stored_opt, form.data.skills_optional, found.get("optional"), lang),
            countries=forms.country_choices(lang),
            languages=forms.language_choices(lang),
            eu_languages=sorted(
                forms.EU_LANGUAGES, key=lambda c: forms.language_name(c, lang).casefold()
            ),
            other_languages=other_languages,
        ),
        status,
    )


def _call_form_post(existing: Call | None) -> Any:
    me = current_member()
    assert me is not None
    form = forms.parse_call_form(request.form)
    action = request.form.get("action", "save")
    if action in ("find_required", "find_optional"):
        which = action.removeprefix("find_")
        chosen = form.data.skills_required + form.data.skills_optional
        found = _find(form.raw[action], "skill", chosen, current_language())
        return _render_call_form(form, existing, {which: found})
    if form.errors:
        return _render_call_form(form, existing, {}, 422)
    session_ = db()
    try:
        if existing is None:
            saved = call_service.create_call(session_, ctx(), me, form.data, vocab())
        else:
            saved = call_service.update_call(session_, existing, me, form.data, vocab())
    except ValidationError as exc:
        session_.rollback()
        form.errors.update(exc.errors)
        return _render_call_form(form, existing, {}, 422)
    session_.commit()
    flash(_("The call is saved."))
    return redirect(url_for("main.call", public_id=saved.public_id))


@bp.route("/calls/new", methods=["GET", "POST"])
@login_required
def new_call() -> Any:
    if request.method == "POST":
        return _call_form_post(None)
    me = current_member()
    assert me is not None
    data = call_service.CallData(
        country=me.country or ctx().country,
        city=me.city,
        language=current_language(),
        languages=[current_language()],
    )
    return _render_call_form(forms.call_form_from_data(data), None, {})


@bp.route("/calls/<public_id>/edit", methods=["GET", "POST"])
@login_required
def edit_call(public_id: str) -> Any:
    found = _visible_call(public_id)
    if not _may_edit(found, current_member()):
        abort(403)
    if request.method == "POST":
        return _call_form_post(found)
    return _render_call_form(forms.call_form_from_data(call_service.call_data(found)), found, {})


def _set_status(public_id: str, status: str) -> Any:
    found = _visible_call(public_id)
    me = current_member()
    assert me is not None
    call_service.set_status(db(), found, me, status)  # PermissionDenied -> 403
    db().commit()
    flash(_("The call is closed.") if status == "closed" else _("The call is open again."))
    return redirect(url_for("main.call", public_id=public_id))


@bp.route("/calls/<public_id>/close", methods=["POST"])
@login_required
def close_call(public_id: str) -> Any:
    return _set_status(public_id, "closed")


@bp.route("/calls/<public_id>/reopen", methods=["POST"])
@login_required
def reopen_call(public_id: str) -> Any:
    return _set_status(public_id, "open")


@bp.route("/calls/<public_id>/delete", methods=["GET", "POST"])
@login_required
def delete_call(public_id: str) -> Any:
    found = _visible_call(public_id)
    me = current_member()
    if not _may_edit(found, me):
        abort(403)
    if request.method == "GET":
        return render_template("call_delete.html", call=found)
    assert me is not None
    call_service.delete_call(db(), found, me)
    db().commit()
    flash(_("The call is deleted."))
    return redirect(url_for("main.home"))
