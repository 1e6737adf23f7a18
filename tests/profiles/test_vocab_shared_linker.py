"""Vocabularies with the same labels share one Linker (built once per process: seconds and tens
of MB); any other labels get their own, which links by those labels."""

from __future__ import annotations

from profiles.linking import Label
from profiles.vocabulary import shared_linker

SKILL = "http://data.europa.eu/esco/skill/s1"
OTHER = "http://data.europa.eu/esco/skill/s2"


def test_same_labels_share_a_linker_other_labels_do_not() -> None:
    labels = [Label(SKILL, "sv", "ljudteknik", preferred=True)]
    first = shared_linker(list(labels), {SKILL: "skill"})
    assert shared_linker(list(labels), {SKILL: "skill"}) is first
    changed = [*labels, Label(OTHER, "sv", "bokföring", preferred=True)]
    second = shared_linker(changed, {SKILL: "skill", OTHER: "skill"})
    assert second is not first
    assert second.link_one("bokföring", "sv").iri == OTHER
    assert shared_linker(labels, {SKILL: "occupation"}) is not second  # kinds count too
