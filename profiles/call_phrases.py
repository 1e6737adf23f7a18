"""A call's skills in its author's own words: understood, reviewed by the author, stored.

The author writes required and nice-to-have skills as free text, one per line ("Förder-
mittelanträge für Creative Europe schreiben"). :func:`review` understands every line with
:mod:`profiles.understanding` (the same linker and thresholds as the importer), applies what the
author chose for it (a concept, or "keep my own words"), and answers the best concepts to pick
from; nothing is stored. :func:`profiles.calls.create_call` / ``update_call`` then store the
reviewed phrases as ``call_phrases`` rows, exactly as the importer does, and their linked
concepts as the call's skills.

A choice is keyed by the phrase's field and text, not by its position: the author may edit the
lines between "check" and "save", and a choice must never move to another phrase.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from profiles.fields import CallFields, max_length
from profiles.linking import LinkSuggestion
from profiles.models import CallPhrase
from profiles.understanding import LINKED, PROPOSED, UNLINKED, Phrase, understand_with_suggestions
from profiles.vocabulary import Vocabulary

MAX_PHRASE_CHARS = 255  # call_phrases.text is String(255), the importer's MAX_ITEM_CHARS
# Required and nice-to-have lines together: as many as the call may have concepts.
MAX_PHRASES = max_length(CallFields, "skills_required")
SUGGESTIONS = 5
# Below this similarity a "suggestion" is noise: gibberish ("xyzzy qwerty") scores up to ~0.16
# against the curated vocabulary, a real paraphrase's right concept ~0.25 and up
# ("Antragsprosa für Kulturstiftungen" -> "Förderanträge verwalten" 0.25).
SUGGEST_MIN_SCORE = 0.2
OWN_WORDS = "own"  # the author's choice: no concept, match these words as written

Key = tuple[bool, str]  # (required, text)


def split(raw: str) -> list[str]:
    """One phrase per line; whitespace collapsed; blank and repeated lines dropped."""
    out: list[str] = []
    for line in raw.splitlines():
        text = " ".join(line.split())
        if text and text not in out:
            out.append(text)
    return out


def check(required: Sequence[str], optional: Sequence[str]) -> dict[str, str]:
    """Problems of the typed lines, in English (field -> message), before anything is linked:
    too many lines, or a line too long to store."""
    errors: dict[str, str] = {}
    if len(required) + len(optional) > MAX_PHRASES:
        errors["said_required"] = f"at most {MAX_PHRASES} phrases in all"
    for name, texts in (("said_required", required), ("said_optional", optional)):
        long = next((t for t in texts if len(t) > MAX_PHRASE_CHARS), None)
        if long is not None:
            errors[name] = f"a line of at most {MAX_PHRASE_CHARS} characters: {long[:40]}"
    return errors


def languages(language: str, working: Iterable[str]) -> list[str]:
    """The languages a call's phrases are written in, most likely first: its text's language,
    then its working languages (the importer's order)."""
    return list(dict.fromkeys([language, *working]))


@dataclass(frozen=True)
class Reviewed:
    """One line of the author's, as it will be stored, with what to offer them."""

    required: bool
    phrase: Phrase  # with the author's choice applied: what is stored
    understood: Phrase  # what the vocabulary (or the call as stored) made of it
    chosen: str  # "" (no choice), a concept IRI, or OWN_WORDS
    suggestions: tuple[LinkSuggestion, ...]  # best concepts first

    @property
    def key(self) -> Key:
        return (self.required, self.phrase.text)


def _stored(phrases: Iterable[CallPhrase]) -> dict[Key, Phrase]:
    return {
        (p.required, p.text): Phrase(p.text, p.lang, "", p.concept_iri, p.status)
        for p in phrases
        if p.status in (LINKED, PROPOSED, UNLINKED)
    }


def _apply(vocab: Vocabulary, phrase: Phrase, chosen: str) -> tuple[Phrase, str]:
    """The phrase with the author's choice; an IRI that is no skill or occupation counts as
    no choice (a stale or forged form)."""
    if chosen == OWN_WORDS:
        return replace(phrase, iri=None, status=UNLINKED, label=""), chosen
    kind = vocab.kinds.get(chosen)
    if kind in ("skill", "occupation"):
        label = vocab.label(chosen, phrase.lang or "en")
        return replace(phrase, iri=chosen, status=LINKED, kind=kind, label=label), chosen
    return phrase, ""


def review(
    vocab: Vocabulary,
    required: Sequence[str],
    optional: Sequence[str],
    langs: Sequence[str],
    choices: Mapping[Key, str] | None = None,
    stored: Iterable[CallPhrase] = (),
) -> list[Reviewed]:
    """Every line understood, the author's ``choices`` applied. A line the call already has
    (``stored``, same field and text) keeps what was decided for it when it was saved (an
    edit changes nothing the author did not touch); a new line is understood afresh.
    Check the lines with :func:`check` first: this links each one."""
    before = _stored(stored)
    choices = choices or {}
    out: list[Reviewed] = []
    for is_required, texts in ((True, required), (False, optional)):
        for text in texts:
            fresh, found = understand_with_suggestions(vocab, text, langs, None, SUGGESTIONS)
            found = [s for s in found if s.score >= SUGGEST_MIN_SCORE]
            understood = before.get((is_required, text), fresh)
            if understood.status != UNLINKED and not understood.lang:
                understood = replace(understood, lang=fresh.lang)
            phrase, chosen = _apply(vocab, understood, choices.get((is_required, text), ""))
            if understood.iri and all(s.iri != understood.iri for s in found):
                # Stored from an earlier vocabulary or chosen by the author: still offered.
                label = vocab.label(understood.iri, understood.lang or "en")
                found = [LinkSuggestion(understood.iri, understood.score, label, ""), *found]
            out.append(Reviewed(is_required, phrase, understood, chosen, tuple(found)))
    return out


def concepts(reviewed: Iterable[Reviewed]) -> tuple[list[str], list[str]]:
    """The concepts the reviewed lines stand for for sure: (required, nice-to-have)."""
    required: list[str] = []
    optional: list[str] = []
    for r in reviewed:
        if r.phrase.status == LINKED and r.phrase.iri:
            target = required if r.required else optional
            if r.phrase.iri not in target:
                target.append(r.phrase.iri)
    return required, optional


def rows(reviewed: Iterable[Reviewed]) -> list[CallPhrase]:
    """``call_phrases`` rows, in the author's order (required lines first)."""
    return [
        CallPhrase(
            position=i,
            required=r.required,
            text=r.phrase.text[:MAX_PHRASE_CHARS],
            lang=r.phrase.lang,
            concept_iri=r.phrase.iri,
            status=r.phrase.status,
        )
        for i, r in enumerate(reviewed)
    ]
