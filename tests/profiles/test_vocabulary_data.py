"""Checks on the shipped, curated ESCO vocabulary (profiles/data/vocabulary.json).

The file is hand-curated data: these tests guard its shape, its multilingual completeness,
the uniqueness of labels per language (a label must resolve to one concept when a member types
it) and, when the ESCO test data is present, that every IRI is a real ESCO concept.
"""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from functools import cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
VOCAB = REPO / "profiles" / "data" / "vocabulary.json"
ESCO_DIR = REPO.parent / "shared" / "data" / "esco"

LANGS = ("en", "de", "sv", "fr", "nl", "it", "es")
GROUPS = {
    "performing_arts",
    "music",
    "sound_light",
    "film_video",
    "visual_arts",
    "design",
    "writing_translation",
    "teaching",
    "it",
    "consulting",
    "events",
    "crafts",
    # issue 11: every profession group Smart's members name, not only the arts
    "finance_admin",
    "care_social",
    "research",
    "architecture",
    "environment",
    "cleaning",
}
IRI_RE = {
    "skill": re.compile(r"^http://data\.europa\.eu/esco/skill/[0-9a-f-]{36}$"),
    "occupation": re.compile(r"^http://data\.europa\.eu/esco/occupation/[0-9a-f-]{36}$"),
}
SKILL_CODE_RE = re.compile(r"^[SKALT]\d*(\.\d+)*$")
ISCO_RE = re.compile(r"^\d{4}$")


@cache
def vocab() -> dict:
    with VOCAB.open(encoding="utf-8") as f:
        return json.load(f)


def concepts() -> list[dict]:
    return vocab()["concepts"]


def owners(lang: str, label: str) -> list[dict]:
    key = label.casefold()
    return [
        c
        for c in concepts()
        if key
        in {c["labels"][lang]["preferred"].casefold()}
        | {a.casefold() for a in c["labels"][lang]["alt"]}
    ]


def test_top_level_shape() -> None:
    v = vocab()
    assert set(v) == {"version", "esco_version", "attribution", "groups", "concepts", "relations"}
    assert v["version"] == "coopfed-curated-2026.11"
    assert v["esco_version"].startswith("ESCO v")
    assert v["attribution"] == "ESCO – © European Union"
    assert set(v["groups"]) == GROUPS
    for key, names in v["groups"].items():
        assert set(names) == set(LANGS), key
        assert all(isinstance(n, str) and n.strip() for n in names.values()), key


def test_concept_shape() -> None:
    for c in concepts():
        assert set(c) == {"iri", "kind", "group", "esco_codes", "labels"}, c.get("iri")
        assert c["kind"] in IRI_RE, c["iri"]
        assert IRI_RE[c["kind"]].match(c["iri"]), c["iri"]
        assert c["group"] in GROUPS, c["iri"]
        assert isinstance(c["esco_codes"], list), c["iri"]
        if c["kind"] == "occupation":
            assert len(c["esco_codes"]) == 1 and ISCO_RE.match(c["esco_codes"][0]), c["iri"]
        else:
            assert all(SKILL_CODE_RE.match(code) for code in c["esco_codes"]), c["iri"]


def test_every_concept_has_all_languages() -> None:
    for c in concepts():
        assert set(c["labels"]) == set(LANGS), c["iri"]
        for lang in LANGS:
            entry = c["labels"][lang]
            assert set(entry) == {"preferred", "alt"}, (c["iri"], lang)
            assert entry["preferred"].strip() == entry["preferred"] != "", (c["iri"], lang)
            assert all(a.strip() == a != "" for a in entry["alt"]), (c["iri"], lang)


def test_relations_link_occupations_to_their_skills() -> None:
    kinds = {c["iri"]: c["kind"] for c in concepts()}
    relations = vocab()["relations"]
    assert len(relations) >= 40
    for occ, skills in relations.items():
        assert kinds.get(occ) == "occupation", occ
        assert skills and all(kinds.get(s) == "skill" for s in skills), occ


@pytest.mark.parametrize(
    ("lang", "label"),
    [
        ("sv", "bokföring"),
        ("de", "Buchhaltung"),
        ("fr", "comptabilité"),
        ("nl", "boekhouding"),
        ("it", "contabilità"),
        ("es", "contabilidad"),
        ("en", "bookkeeping"),
    ],
)
def test_bookkeeping_is_one_concept_in_every_language(lang: str, label: str) -> None:
    (found,) = owners(lang, label)
    assert found["iri"].endswith("880c54f9-866e-4f37-b5fa-25ef8a7d49b6")


def test_iris_unique() -> None:
    dupes = [i for i, n in Counter(c["iri"] for c in concepts()).items() if n > 1]
    assert dupes == []


def test_no_label_shared_between_concepts_in_a_language() -> None:
    for lang in LANGS:
        seen: dict[str, str] = {}
        clashes = []
        for c in concepts():
            entry = c["labels"][lang]
            own = {entry["preferred"].casefold()} | {a.casefold() for a in entry["alt"]}
            for label in own:
                if label in seen and seen[label] != c["iri"]:
                    clashes.append((label, seen[label], c["iri"]))
                seen[label] = c["iri"]
        assert clashes == [], (lang, clashes[:5])


def test_counts() -> None:
    kinds = Counter(c["kind"] for c in concepts())
    assert kinds["occupation"] >= 100
    assert kinds["skill"] >= 200
    # Every group offers both occupations and skills to pick from.
    for group in GROUPS:
        got = {c["kind"] for c in concepts() if c["group"] == group}
        assert got == {"occupation", "skill"}, group


def test_sorted_by_group_kind_label() -> None:
    order = list(vocab()["groups"])
    keys = [
        (order.index(c["group"]), c["kind"], c["labels"]["en"]["preferred"].casefold())
        for c in concepts()
    ]
    assert keys == sorted(keys)


@pytest.mark.parametrize(
    ("lang", "label", "kind"),
    [
        ("en", "sound mixing", "skill"),
        ("en", "mix sound", "skill"),
        ("sv", "ljudmixning", "skill"),
        ("de", "Tontechnik", "skill"),
        ("en", "lighting design", "skill"),
        ("en", "operate lighting", "skill"),
        ("en", "stage management", "skill"),
        ("en", "video editing", "skill"),
        ("en", "camera operation", "skill"),
        ("en", "photography", "skill"),
        ("en", "graphic design", "skill"),
        ("en", "illustration", "skill"),
        ("en", "web development", "skill"),
        ("en", "software development", "skill"),
        ("en", "Python", "skill"),
        ("en", "JavaScript", "skill"),
        ("en", "UX design", "skill"),
        ("en", "translation", "skill"),
        ("en", "interpreting", "skill"),
        ("en", "subtitling", "skill"),
        ("en", "copywriting", "skill"),
        ("en", "proofreading", "skill"),
        ("en", "music teaching", "skill"),
        ("en", "teach dance", "skill"),
        ("en", "teach languages", "skill"),
        ("en", "project management", "skill"),
        ("en", "event planning", "skill"),
        ("en", "set construction", "skill"),
        ("en", "costume making", "skill"),
        ("en", "carpentry", "skill"),
        ("en", "ceramics", "skill"),
        ("en", "choreography", "skill"),
        ("en", "acting", "skill"),
        ("en", "singing", "skill"),
        ("en", "play musical instruments", "skill"),
        ("en", "compose music", "skill"),
        ("en", "music production", "skill"),
        ("en", "DJing", "skill"),
        ("en", "social media", "skill"),
        ("en", "data analysis", "skill"),
        ("de", "Webdesign", "skill"),
        ("fr", "mixage son", "skill"),
        ("de", "Abmischung", "skill"),
        ("en", "translator", "occupation"),
        ("en", "musician", "occupation"),
    ],
)
def test_required_label_present(lang: str, label: str, kind: str) -> None:
    found = owners(lang, label)
    assert len(found) == 1, (lang, label, [c["iri"] for c in found])
    assert found[0]["kind"] == kind


def test_sound_labels_share_one_concept() -> None:
    # "sound mixing" typed in English and "ljudmixning" typed in Swedish must link to the same
    # ESCO IRI, or cross-border matching of sound engineers fails.
    (en,) = owners("en", "sound mixing")
    (sv,) = owners("sv", "ljudmixning")
    (mix,) = owners("en", "mix sound")
    assert en["iri"] == sv["iri"] == mix["iri"]


@cache
def esco_iris(filename: str) -> frozenset[str]:
    with (ESCO_DIR / filename).open(encoding="utf-8", newline="") as f:
        return frozenset(row["conceptUri"] for row in csv.DictReader(f))


@pytest.mark.usefixtures("esco_dir")  # skips, or fails under COOPFED_REQUIRE_ALL=1
def test_every_iri_exists_in_esco() -> None:
    occupations = esco_iris("occupations_en.csv")
    skills = esco_iris("skills_en.csv")
    missing = [
        c["iri"]
        for c in concepts()
        if c["iri"] not in (occupations if c["kind"] == "occupation" else skills)
    ]
    assert missing == []
