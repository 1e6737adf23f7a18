"""Editing one's own profile: the form, concept search steps ("find a skill") and the avatar."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from node.i18n import current_language
from node.web import current_member, db, forms, login_required, state, vocab
from node.web.pages import avatar_folder, find, picker
from profiles import members as member_service
from profiles.errors import ValidationError
from profiles.fields import ProfileData
from profiles.languages import UI_LANGUAGES
from profiles.models import Member, MemberPhrase
from profiles.understanding import LINKED, PROPOSED, UNLINKED

bp = Blueprint("profile", __name__)


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
            skills=picker(stored.skills, form.data.skills, found.get("skill"), lang),
            occupations=picker(
                stored.occupations, form.data.occupations, found.get("occupation"), lang
            ),
            countries=forms.country_choices(lang),
            languages=forms.language_choices(lang),
            levels=forms.level_choices(),
            visibilities=forms.visibility_choices(),
            empty_rows=forms.EMPTY_ROWS,
            proposals=_proposals(me),
            language_pairs=request.form.get("language_pairs", "")[:300]
            if request.method == "POST"
            else me.language_pairs,
        ),
        status,
    )


def _proposals(me: Member) -> list[MemberPhrase]:
    """Phrases the importer linked with low confidence: the member confirms or rejects them."""
    return [p for p in me.phrases if p.status == PROPOSED and p.concept_iri]


def _review_proposals(me: Member, data: ProfileData) -> None:
    """Apply the member's answers: a confirmed proposal becomes one of their concepts (added
    to ``data`` before it is saved), a rejected one stays as their words only."""
    kinds = vocab().kinds
    for phrase in _proposals(me):
        answer = request.form.get(f"phrase-{phrase.id}")
        iri = phrase.concept_iri
        if answer == "yes" and iri:
            chosen = data.occupations if kinds.get(iri) == "occupation" else data.skills
            if iri not in chosen:
                chosen.append(iri)
            phrase.status = LINKED
        elif answer == "no":
            phrase.status, phrase.concept_iri = UNLINKED, None


def _new_avatar(form: forms.ProfileForm) -> str | None:
    """Store an uploaded picture (its new file name), or note what is wrong with it."""
    upload = request.files.get("avatar")
    if upload is None or not upload.filename:
        return None
    try:
        return forms.save_avatar(upload, avatar_folder(), state().settings.max_avatar_bytes)
    except forms.BadAvatar as exc:
        form.errors["avatar"] = str(exc)
        return None


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
        found = find(form.raw[action], kind, chosen, current_language())
        return _render_profile(form, me, {kind: found})

    ui_language = form.raw["ui_language"]
    if ui_language and ui_language not in UI_LANGUAGES:
        form.errors["ui_language"] = _("Choose one of the offered languages.")
    new_avatar = _new_avatar(form)
    if form.errors:
        forms.remove_avatar_file(avatar_folder(), new_avatar)
        return _render_profile(form, me, {}, 422)
    old_avatar = me.avatar
    if new_avatar:
        me.avatar = new_avatar
    elif request.form.get("remove_avatar"):
        me.avatar = None
    me.ui_language = ui_language or None
    _review_proposals(me, form.data)
    session_ = db()
    try:
        member_service.update_profile(session_, me, form.data, vocab())
    except ValidationError as exc:
        session_.rollback()
        forms.remove_avatar_file(avatar_folder(), new_avatar)
        form.errors.update(exc.errors)
        return _render_profile(form, me, {}, 422)
    session_.commit()
    if old_avatar != me.avatar:
        forms.remove_avatar_file(avatar_folder(), old_avatar)
    if ui_language:
        session["lang"] = ui_language  # the explicit choice beats an earlier ?lang= switch
    flash(_("Your profile is saved."))
    return redirect(url_for("members.member", username=me.username))
