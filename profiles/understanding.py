"""What a member or call author wrote, understood: every phrase kept, linked when sure.

One typed phrase ("bokföring", "klippning av dokumentärfilm", "EU-Förderprogramme") becomes a
:class:`Phrase`: the text as written, the language it is written in (detected among the
writer's languages: people list languages in any order and write skills in several), and what
the vocabulary made of it:

- ``linked``: sure enough to stand for a concept (a confirmed skill/occupation);
- ``proposed``: a likely concept the member should confirm or correct; until then it counts
  as weaker evidence (the ranker's ``text_concepts``);
- ``unlinked``: no concept; the phrase itself is still matched by character n-grams.

Nothing is dropped: the phrases are stored with the member or call, shown as the writer's own
words beside the confirmed concepts, and handed to the ranker.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from profiles.linking import LANGUAGES, LinkSuggestion, confidence
from profiles.vocabulary import Vocabulary

LINKED, PROPOSED, UNLINKED = "linked", "proposed", "unlinked"
STATUSES = (LINKED, PROPOSED, UNLINKED)


@dataclass(frozen=True)
class Phrase:
    text: str
    lang: str  # detected language, "" when no label of any language resembles it
    kind: str  # "skill", "occupation", or "" (a call's skill field takes either)
    iri: str | None
    status: str
    score: float = 0.0
    label: str = ""  # the vocabulary label that matched


def understand(
    vocab: Vocabulary, text: str, langs: Sequence[str], kind: str | None = None
) -> Phrase:
    """One phrase, linked in the language it is written in (among ``langs``, else any of
    ours). Never raises for odd text: gibberish comes back ``unlinked``."""
    return understand_with_suggestions(vocab, text, langs, kind, limit=2)[0]


def understand_with_suggestions(
    vocab: Vocabulary, text: str, langs: Sequence[str], kind: str | None = None, limit: int = 5
) -> tuple[Phrase, list[LinkSuggestion]]:
    """:func:`understand`, also answering the ``limit`` best concepts, best first: what a
    writer may pick when the phrase was not understood (one similarity computation for both;
    the linker's order does not depend on ``limit``, so the phrase is the same)."""
    text = " ".join(text.split())
    candidates = [code for code in langs if code in LANGUAGES] or list(LANGUAGES)
    detected, found = vocab.linker.link_detect(
        text, kind=kind, limit=max(limit, 2), langs=candidates
    )
    lang = detected or ""
    status = {"link": LINKED, "propose": PROPOSED}.get(confidence(text, found), UNLINKED)
    if status == UNLINKED or not found:
        score = found[0].score if found else 0.0
        return Phrase(text, lang, kind or "", None, UNLINKED, score), found[:limit]
    best = found[0]
    phrase = Phrase(
        text, lang, kind or vocab.kinds.get(best.iri, ""), best.iri, status, best.score, best.label
    )
    return phrase, found[:limit]


@dataclass(frozen=True)
class Understood:
    """What the ranker gets from a list of phrases."""

    skills: frozenset[str]
    occupations: frozenset[str]
    weak: frozenset[str]  # proposed concepts: weaker evidence until confirmed
    texts: tuple[str, ...]  # every phrase, as written
    not_understood: tuple[str, ...]  # phrases without a linked concept


def summarise(vocab: Vocabulary, phrases: Iterable[Phrase]) -> Understood:
    skills: set[str] = set()
    occupations: set[str] = set()
    weak: set[str] = set()
    texts: list[str] = []
    missing: list[str] = []
    for p in phrases:
        texts.append(p.text)
        if p.status == LINKED and p.iri:
            kind = vocab.kinds.get(p.iri)
            (occupations if kind == "occupation" else skills).add(p.iri)
        else:
            missing.append(p.text)
            if p.status == PROPOSED and p.iri:
                weak.add(p.iri)
    return Understood(
        frozenset(skills),
        frozenset(occupations),
        frozenset(weak - skills - occupations),
        tuple(dict.fromkeys(texts)),
        tuple(dict.fromkeys(missing)),
    )
