"""Project calls: the list, a call's page, the form (new and edit), close/reopen, delete.

Who may see a call is :func:`profiles.calls.can_view`'s decision, who may edit it
:func:`profiles.visibility.may_edit_call`'s; the services check again (PermissionDenied -> 403).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from node.i18n import current_language
from node.web import ctx, current_member, db, forms, login_required, vocab
from node.web.pages import PER_PAGE, coops, find, pages, picker
from profiles import call_phrases, moderation, visibility
from profiles import calls as call_service
from profiles.errors import ValidationError
from profiles.languages import WORKING_LANGUAGES
from profiles.models import Call
from profiles.understanding import LINKED, UNLINKED

bp = Blueprint("calls", __name__)

FEED_FILTERS = ("skill", "country", "language")


def feed_filters(args: dict[str, str]) -> dict[str, str]:
    """The feed filters present (non-empty) in ``args``: for links to the matching feed."""
    return {k: args[k].strip() for k in FEED_FILTERS if (args.get(k) or "").strip()}


@bp.route("/calls")
def calls() -> Any:
    args = request.args
    remote = {"yes": True, "no": False}.get(args.get("remote", ""))
    skill = args.get("skill", "").strip() or None
    skill_text = args.get("skill_q", "").strip()[:200]
    # A skill typed as text: the calls needing any of the concepts it names (the picker's
    # search, in every language); the matches are shown so that one can be chosen.
    skill_matches = find(skill_text, "skill", [], current_language()) if not skill else []
    query = call_service.CallQuery(
        skill=skill,
        skills=[c.iri for c in skill_matches] if skill_text and not skill else None,
        text=args.get("q", "").strip()[:200] or None,
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
        pages=pages(total),
        skill=query.skill,
        skill_text=skill_text,
        skill_matches=skill_matches,
        countries=forms.country_choices(lang),
        languages=forms.language_choices(lang),
        coops=coops(),
        feed_filters=feed_filters(args.to_dict()),
    )


def _visible_call(public_id: str) -> Call:
    call = call_service.get_by_public_id(db(), public_id)  # NotFound -> 404
    if not call_service.can_view(call, current_member()):
        abort(404)
    if not call.local and moderation.is_blocked(db(), call.node):
        abort(404)  # received before its coop's domain was blocked: hidden, not yet purged
    return call


def _editable_call(public_id: str) -> Call:
    found = _visible_call(public_id)
    if not visibility.may_edit_call(found, current_member()):
        abort(403)
    return found


@bp.route("/calls/<public_id>")
def call(public_id: str) -> Any:
    """A call's page. The same URL serves the call's AS2 Page to ActivityPub clients
    (node.ap.negotiation)."""
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
    said: SaidState,
    status: int = 200,
) -> Any:
    lang = current_language()
    # Concepts that stand for one of the author's lines are shown with that line, not in the
    # picker: deleting the line removes its concept.
    from_said = _said_concepts(existing)
    stored_req = [i for i in existing.required_skills if i not in from_said] if existing else []
    stored_opt = [i for i in existing.optional_skills if i not in from_said] if existing else []
    other_languages = [c for c in form.raw["languages"] if c not in WORKING_LANGUAGES]
    return (
        render_template(
            "call_form.html",
            call=existing,
            form=form,
            raw=form.raw,
            errors=form.errors,
            required=picker(stored_req, form.data.skills_required, found.get("required"), lang),
            optional=picker(stored_opt, form.data.skills_optional, found.get("optional"), lang),
            said=said,
            said_rows=_said_rows(said.reviewed, lang) if said.reviewed is not None else None,
            own_words=call_phrases.OWN_WORDS,
            countries=forms.country_choices(lang),
            languages=forms.language_choices(lang),
            eu_languages=sorted(
                WORKING_LANGUAGES, key=lambda c: forms.language_name(c, lang).casefold()
            ),
            other_languages=other_languages,
            visibilities=forms.visibility_choices(),
            **_language_rule(existing),
        ),
        status,
    )


# --- skills in the author's own words (profiles.call_phrases) ---------------------------------


@dataclass
class SaidState:
    """The form's free-text skills: the lines as typed, and what was understood of them
    (None: not reviewed, e.g. too many lines; ``carried`` then keeps the author's choices)."""

    required_text: str = ""
    optional_text: str = ""
    reviewed: list[call_phrases.Reviewed] | None = None
    carried: list[tuple[bool, str, str]] = field(default_factory=list)


def _said_concepts(existing: Call | None) -> set[str]:
    if existing is None:
        return set()
    return {p.concept_iri for p in existing.phrases if p.status == LINKED and p.concept_iri}


def _posted_choices() -> dict[call_phrases.Key, str]:
    """What the author chose in the review list: ``said-N-text``/``-required``/``-pick``."""
    out: dict[call_phrases.Key, str] = {}
    for i in range(2 * call_phrases.MAX_PHRASES):  # never more than the form offers
        text = request.form.get(f"said-{i}-text")
        pick = request.form.get(f"said-{i}-pick", "")[:255]
        if text is not None and pick:
            out[(request.form.get(f"said-{i}-required") == "1", " ".join(text.split()))] = pick
    return out


def _said_from_post(form: forms.CallForm, existing: Call | None) -> SaidState:
    """The typed lines, checked and (when they pass) understood; problems go to the form."""
    said = SaidState(request.form.get("said_required", ""), request.form.get("said_optional", ""))
    required = call_phrases.split(said.required_text)
    optional = call_phrases.split(said.optional_text)
    choices = _posted_choices()
    problems = call_phrases.check(required, optional)
    if problems:
        form.errors.update(problems)
        said.carried = [(req, text, pick) for (req, text), pick in choices.items()]
        return said
    langs = call_phrases.languages(form.data.language, form.data.languages)
    stored = existing.phrases if existing else ()
    said.reviewed = call_phrases.review(vocab(), required, optional, langs, choices, stored)
    return said


def _said_from_call(existing: Call) -> SaidState:
    """The call's stored lines, as decided when it was saved."""
    required = [p.text for p in existing.phrases if p.required]
    optional = [p.text for p in existing.phrases if not p.required]
    langs = call_phrases.languages(existing.language, [c.code for c in existing.languages])
    reviewed = call_phrases.review(vocab(), required, optional, langs, {}, existing.phrases)
    return SaidState("\n".join(required), "\n".join(optional), reviewed)


def _rows(reviewed: list[call_phrases.Reviewed] | None) -> list[Any] | None:
    """The reviewed lines as rows to store (None: keep what is stored)."""
    return None if reviewed is None else call_phrases.rows(reviewed)


def _said_rows(reviewed: list[call_phrases.Reviewed], lang: str) -> list[dict[str, Any]]:
    """The review list: per line its verdict and the concepts to pick, in the UI language."""
    voc = vocab()
    rows = []
    for r in reviewed:
        p = r.phrase
        options = forms.suggestion_choices(voc, list(r.suggestions), lang, [])
        picked = p.iri if p.status == LINKED else None
        for option in options:
            option.checked = option.iri == picked
        rows.append(
            {
                "required": r.required,
                "text": p.text,
                "lang": p.lang,
                "status": p.status,
                "concept": voc.label(p.iri, lang) if p.iri else "",
                "options": options,
                "own": p.status == UNLINKED,
            }
        )
    return rows


def _language_rule(existing: Call | None) -> dict[str, Any]:
    """The form's "every language" box and translation pairs: as posted, else as stored."""
    if request.method == "POST":
        return {
            "languages_all": request.form.get("languages_all") == "1",
            "language_pairs": request.form.get("language_pairs", "")[:200],
        }
    return {
        "languages_all": bool(existing and existing.languages_all),
        "language_pairs": existing.language_pairs if existing else "",
    }


def _call_form_post(existing: Call | None) -> Any:
    me = current_member()
    assert me is not None
    form = forms.parse_call_form(request.form)
    said = _said_from_post(form, existing)
    action = request.form.get("action", "save")
    if action in ("find_required", "find_optional"):
        which = action.removeprefix("find_")
        chosen = form.data.skills_required + form.data.skills_optional
        found = find(form.raw[action], "skill", chosen, current_language())
        return _render_call_form(form, existing, {which: found}, said)
    if action == "check":  # nothing is saved: the author sees what was understood
        return _render_call_form(form, existing, {}, said, 422 if said.reviewed is None else 200)
    if form.errors:
        return _render_call_form(form, existing, {}, said, 422)
    session_ = db()
    try:
        if existing is None:
            saved = call_service.create_call(
                session_, ctx(), me, form.data, vocab(), phrases=_rows(said.reviewed)
            )
        else:
            saved = call_service.update_call(
                session_, existing, me, form.data, vocab(), phrases=_rows(said.reviewed)
            )
    except ValidationError as exc:
        session_.rollback()
        form.errors.update(exc.errors)
        return _render_call_form(form, existing, {}, said, 422)
    session_.commit()
    flash(_("The call is saved."))
    return redirect(url_for("calls.call", public_id=saved.public_id))


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
    return _render_call_form(forms.call_form_from_data(data), None, {}, SaidState())


@bp.route("/calls/<public_id>/edit", methods=["GET", "POST"])
@login_required
def edit_call(public_id: str) -> Any:
    found = _editable_call(public_id)
    if request.method == "POST":
        return _call_form_post(found)
    data = call_service.call_data(found)
    from_said = _said_concepts(found)
    data.skills_required = [i for i in data.skills_required if i not in from_said]
    data.skills_optional = [i for i in data.skills_optional if i not in from_said]
    return _render_call_form(forms.call_form_from_data(data), found, {}, _said_from_call(found))


def _set_status(public_id: str, status: str) -> Any:
    found = _visible_call(public_id)
    me = current_member()
    assert me is not None
    call_service.set_status(db(), found, me, status)  # PermissionDenied -> 403
    db().commit()
    flash(_("The call is closed.") if status == "closed" else _("The call is open again."))
    return redirect(url_for("calls.call", public_id=public_id))


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
    found = _editable_call(public_id)
    if request.method == "GET":
        return render_template("call_delete.html", call=found)
    me = current_member()
    assert me is not None
    call_service.delete_call(db(), found, me)
    db().commit()
    flash(_("The call is deleted."))
    return redirect(url_for("home.home"))
