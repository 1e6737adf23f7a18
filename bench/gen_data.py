"""Seeded synthetic members and calls over real ESCO concepts, with ground truth.

Members belong to *occupational archetypes*: bundles of ESCO skills drawn from a few leaf
groups of the skill hierarchy (so related concepts really share codes) plus one or two ISCO
unit groups as occupations. Popularity of archetypes is Zipf-like, 8 nodes/countries, national
languages + English, availability windows, visibility consent. Part of each member's skills is
*typed as free text* instead of picked: ``to_profile`` turns those into ``text_concepts``
through a pluggable ``link(text, lang) -> list[iri]`` (default: the text is the IRI itself), so
the lead can wire ``profiles.linking`` with multilingual labels and typos later.

Ground truth for a call = feasible members (visible to the call's node, a shared working
language, available) holding at least ``threshold`` of its required concepts, graded by that
share. It comes from the data's structure, never from a ranker.

    uv run python bench/gen_data.py --profiles 2000 --calls 50   # prints a summary
"""

from __future__ import annotations

import argparse
import csv
import json
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from matchmaking import Availability, Call, ConceptGraph, Profile, visible
from matchmaking.ranking import call_window, overlap

ESCO_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "esco"
VOCABULARY = Path(__file__).resolve().parents[1] / "profiles" / "data" / "vocabulary.json"

# node domain, country, (native language, probability), cities, relative size
NODES = [
    ("be.smart.coop", "BE", [("fr", 0.6), ("nl", 0.4)], ["Bruxelles", "Liège", "Gent"], 30),
    ("fr.smart.coop", "FR", [("fr", 1.0)], ["Paris", "Lyon", "Nantes"], 20),
    ("de.smart.coop", "DE", [("de", 1.0)], ["Berlin", "Köln", "Hamburg"], 12),
    ("es.smart.coop", "ES", [("es", 1.0)], ["Madrid", "Barcelona"], 10),
    ("it.smart.coop", "IT", [("it", 1.0)], ["Milano", "Torino", "Roma"], 10),
    ("nl.smart.coop", "NL", [("nl", 1.0)], ["Amsterdam", "Utrecht"], 7),
    ("se.smart.coop", "SE", [("sv", 1.0)], ["Stockholm", "Göteborg"], 6),
    ("at.smart.coop", "AT", [("de", 1.0)], ["Wien", "Graz"], 5),
]
LANGS = ("de", "sv", "fr", "nl", "it", "es", "en")
Link = Callable[[str, str], list[str]]


def identity_link(text: str, lang: str) -> list[str]:
    """Default linker: the typed text *is* the concept IRI (perfect linking)."""
    return [text]


@dataclass(frozen=True)
class Archetype:
    core: tuple[str, ...]  # most members hold many of these, earlier ones more often
    periphery: tuple[str, ...]  # same hierarchy groups, held now and then
    occupations: tuple[str, ...]


@dataclass
class Member:
    key: str
    username: str
    node: str
    country: str
    city: str
    remote: bool
    visibility: str
    declared: frozenset[str]  # skills picked from the vocabulary
    typed: tuple[str, ...]  # skills typed as free text (true concept IRIs)
    occupations: frozenset[str]
    languages: dict[str, str]
    native: str
    availability: tuple[Availability, ...]
    archetype: int

    @property
    def true_concepts(self) -> frozenset[str]:
        return self.declared | frozenset(self.typed) | self.occupations


@dataclass
class Dataset:
    codes: dict[str, list[str]]
    archetypes: list[Archetype]
    members: list[Member]
    calls: list[Call]
    call_lang: dict[str, str]  # call key -> author's native language
    labels: dict[str, dict[str, str]] = field(default_factory=dict)

    def graph(self) -> ConceptGraph:
        return ConceptGraph(self.codes)


def load_codes(esco_dir: Path = ESCO_DIR) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Skill IRI -> leaf hierarchy codes, and ISCO unit-group IRI -> 4-digit code."""
    skills: dict[str, list[str]] = {}
    with open(esco_dir / "skill_hierarchy_codes_en.tsv", encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            leafs = [[x for x in path if x][-1] for path in json.loads(row["hierarchy_paths"])]
            skills[row["conceptUri"]] = sorted(set(leafs))
    isco: dict[str, str] = {}
    with open(esco_dir / "occupations_en.csv", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            code = row["conceptUri"].rsplit("/", 1)[-1].lstrip("C")
            if row["conceptType"] == "ISCOGroup" and len(code) == 4 and code.isdigit():
                isco[row["conceptUri"]] = code
    return skills, isco


def load_labels(esco_dir: Path = ESCO_DIR) -> dict[str, dict[str, str]]:
    """IRI -> {lang: label}: ISCO groups in 7 languages, skills in English, plus the curated
    vocabulary (profiles/data/vocabulary.json) when present for multilingual skill labels."""
    labels: dict[str, dict[str, str]] = {}
    for lang in LANGS:
        path = esco_dir / f"occupations_{lang}.csv"
        with open(path, encoding="utf-8") as f:
            for row in csv.DictReader(f):
                labels.setdefault(row["conceptUri"], {})[lang] = row["preferredLabel"]
    with open(esco_dir / "skills_en.csv", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            labels.setdefault(row["conceptUri"], {})["en"] = row["preferredLabel"]
    if VOCABULARY.exists():
        try:
            data = json.loads(VOCABULARY.read_text(encoding="utf-8"))
            entries = data.get("concepts", data) if isinstance(data, dict) else data
            for e in entries if isinstance(entries, list) else []:
                iri = e.get("iri") or e.get("uri")
                for lang, lab in (e.get("labels") or {}).items():
                    if iri and isinstance(lab, str):
                        labels.setdefault(iri, {})[lang] = lab
                    elif iri and isinstance(lab, list) and lab:
                        labels.setdefault(iri, {})[lang] = str(lab[0])
        except (ValueError, AttributeError):
            pass  # another helper owns that file; its format may still change
    return labels


def _archetypes(
    rng: random.Random, skills: dict[str, list[str]], isco: dict[str, str], n: int
) -> list[Archetype]:
    by_group: dict[str, list[str]] = {}
    for iri, leafs in sorted(skills.items()):
        for leaf in leafs:
            by_group.setdefault(leaf, []).append(iri)
    deep = sorted(g for g, m in by_group.items() if g[0] in "SK" and len(m) >= 25)
    units = sorted(isco, key=lambda i: isco[i])
    out = []
    for _ in range(n):
        groups = rng.sample(deep, 3)
        anchor = by_group[groups[0]]
        pool = sorted(set(by_group[groups[1]]) | set(by_group[groups[2]]))
        core = rng.sample(anchor, 12) + rng.sample(pool, 8)
        rest = sorted((set(anchor) | set(pool)) - set(core))
        periphery = rng.sample(rest, min(15, len(rest)))
        unit = rng.choice(units)
        sibs = [u for u in units if isco[u][:3] == isco[unit][:3] and u != unit]
        occs = (unit, *rng.sample(sibs, min(1, len(sibs))))
        out.append(Archetype(tuple(core), tuple(periphery), occs))
    return out


def load_curated(path: Path = VOCABULARY) -> tuple[list[dict], dict[str, list[str]]]:
    """The curated vocabulary's concepts (labels in 7 languages) and IRI -> ESCO codes
    (hierarchy codes for skills, ISCO unit groups for occupations)."""
    concepts = list(json.loads(path.read_text(encoding="utf-8"))["concepts"])
    return concepts, {c["iri"]: list(c.get("esco_codes", [])) for c in concepts}


def _curated_archetypes(rng: random.Random, concepts: list[dict], n: int) -> list[Archetype]:
    """Archetypes over the curated vocabulary: a main trade group (12 core skills, the
    occupations) plus one or two neighbouring groups (8 core skills)."""
    skills: dict[str, list[str]] = {}
    occs: dict[str, list[str]] = {}
    for c in concepts:
        (skills if c["kind"] == "skill" else occs).setdefault(c["group"], []).append(c["iri"])
    groups = sorted(g for g in skills if g in occs)
    out = []
    for _ in range(n):
        main, *others = rng.sample(groups, rng.randint(2, 3))
        anchor = sorted(skills[main])
        pool = sorted({s for g in others for s in skills[g]})
        core = rng.sample(anchor, min(12, len(anchor))) + rng.sample(pool, min(8, len(pool)))
        rest = sorted((set(anchor) | set(pool)) - set(core))
        periphery = rng.sample(rest, min(15, len(rest)))
        occupations = tuple(rng.sample(sorted(occs[main]), min(2, len(occs[main]))))
        out.append(Archetype(tuple(core), tuple(periphery), occupations))
    return out


def _pick_weighted(rng: random.Random, items: tuple[str, ...], k: int) -> list[str]:
    """k distinct items, earlier ones more likely (a skill bundle has a centre)."""
    weights = [1.0 / (1.0 + 0.25 * i) for i in range(len(items))]
    chosen: list[str] = []
    pool, w = list(items), weights[:]
    for _ in range(min(k, len(pool))):
        i = rng.choices(range(len(pool)), weights=w)[0]
        chosen.append(pool.pop(i))
        w.pop(i)
    return chosen


def _availability(rng: random.Random) -> tuple[Availability, ...]:
    if rng.random() < 0.3:
        return ()
    out = []
    for _ in range(rng.randint(1, 3)):
        start = date(2026, 1, 1) + timedelta(days=rng.randrange(330))
        out.append(Availability(start, start + timedelta(days=rng.randint(14, 150))))
    return tuple(sorted(out, key=lambda a: a.start))


def generate(
    n_profiles: int,
    n_calls: int,
    *,
    seed: int = 0,
    n_archetypes: int = 40,
    typed_share: float = 0.25,
    esco_dir: Path = ESCO_DIR,
    universe: str = "esco",
) -> Dataset:
    """``universe="esco"``: every ESCO skill (English labels only) and ISCO unit groups;
    ``"curated"``: the shipped vocabulary's 408 concepts, labelled in all 7 languages (needed
    to write concepts as free text in the member's language, see bench/freetext.py)."""
    rng = random.Random(seed)
    labels: dict[str, dict[str, str]] = {}
    if universe == "curated":
        concepts, codes = load_curated()
        archetypes = _curated_archetypes(rng, concepts, n_archetypes)
        skill_iris = sorted(c["iri"] for c in concepts if c["kind"] == "skill")
        noise = rng.sample(skill_iris, len(skill_iris) // 4)
        labels = {
            c["iri"]: {lang: n["preferred"] for lang, n in c["labels"].items()} for c in concepts
        }
    elif universe == "esco":
        skills, isco = load_codes(esco_dir)
        codes = dict(skills)
        codes.update({iri: [c] for iri, c in isco.items()})
        archetypes = _archetypes(rng, skills, isco, n_archetypes)
        noise = rng.sample(sorted(skills), 300)
    else:
        raise ValueError(f"unknown universe {universe!r}")
    popularity = [1.0 / (1 + i) ** 0.8 for i in range(n_archetypes)]
    members: list[Member] = []
    for i in range(n_profiles):
        node, country, natives, cities, _ = rng.choices(NODES, weights=[n[4] for n in NODES])[0]
        native = rng.choices([n for n, _ in natives], weights=[w for _, w in natives])[0]
        langs = {native: "native"}
        if rng.random() < 0.55:
            langs["en"] = rng.choice(("B1", "B2", "C1", "C2"))
        if rng.random() < 0.2:
            other = rng.choice([x for x in LANGS if x not in langs])
            langs[other] = rng.choice(("A2", "B1", "B2", "C1"))
        a = rng.choices(range(n_archetypes), weights=popularity)[0]
        arch = archetypes[a]
        mine = _pick_weighted(rng, arch.core, rng.randint(7, 13))
        mine += rng.sample(arch.periphery, min(len(arch.periphery), rng.randint(0, 3)))
        mine += rng.sample(noise, rng.randint(0, 2))
        if rng.random() < 0.1:  # a second trade
            mine += _pick_weighted(rng, archetypes[rng.randrange(n_archetypes)].core, 4)
        mine = list(dict.fromkeys(mine))
        rng.shuffle(mine)
        n_typed = int(round(typed_share * len(mine)))
        occs = frozenset(arch.occupations[:1] if rng.random() < 0.8 else ())
        members.append(
            Member(
                key=f"https://{node}/users/m{i}",
                username=f"m{i}",
                node=node,
                country=country,
                city=rng.choice(cities),
                remote=rng.random() < 0.5,
                visibility=rng.choices(("public", "partners", "coop"), (0.6, 0.25, 0.15))[0],
                declared=frozenset(mine[n_typed:]),
                typed=tuple(sorted(mine[:n_typed])),
                occupations=occs,
                languages=langs,
                native=native,
                availability=_availability(rng),
                archetype=a,
            )
        )
    calls: list[Call] = []
    call_lang: dict[str, str] = {}
    for j in range(n_calls):
        author = members[rng.randrange(len(members))]
        arch = archetypes[author.archetype]
        required = _pick_weighted(rng, arch.core, rng.randint(3, 6))
        if rng.random() < 0.2:  # cross-disciplinary call
            required += _pick_weighted(rng, archetypes[rng.randrange(n_archetypes)].core, 2)
        if rng.random() < 0.3:
            required.append(arch.occupations[0])
        bundle = arch.core + arch.periphery
        optional = [c for c in rng.sample(bundle, min(3, len(bundle))) if c not in required]
        langs = {author.native} | ({"en"} if rng.random() < 0.5 else set())
        starts = ends = None
        if rng.random() < 0.7:
            starts = date(2026, 1, 1) + timedelta(days=rng.randrange(330))
            ends = starts + timedelta(days=rng.randint(7, 90))
        key = f"https://{author.node}/calls/c{j}"
        calls.append(
            Call(
                key=key,
                node=author.node,
                author_key=author.key,
                country=author.country,
                city=author.city,
                remote=rng.random() < 0.5,
                visibility=rng.choices(("public", "partners", "coop"), (0.6, 0.3, 0.1))[0],
                required=frozenset(required),
                optional=frozenset(optional[:2]),
                languages=frozenset(langs),
                starts=starts,
                ends=ends,
                open=rng.random() < 0.9,
                text_concepts=frozenset(rng.sample(arch.core, rng.randint(0, 2))),
            )
        )
        call_lang[key] = author.native
    return Dataset(codes, archetypes, members, calls, call_lang, labels)


def to_profile(
    m: Member,
    link: Link = identity_link,
    text_of: Callable[[str, str], str] | None = None,
) -> Profile:
    """The member as the node would index them: typed skills go through the linker."""
    linked: set[str] = set()
    for iri in m.typed:
        text = text_of(iri, m.native) if text_of else iri
        linked.update(link(text, m.native))
    return Profile(
        key=m.key,
        username=m.username,
        node=m.node,
        country=m.country,
        city=m.city,
        remote=m.remote,
        visibility=m.visibility,
        skills=m.declared,
        occupations=m.occupations,
        languages=dict(m.languages),
        availability=m.availability,
        text_concepts=frozenset(linked),
    )


def feasible_member(m: Member, call: Call, viewer_node: str) -> bool:
    if m.key == call.author_key or not visible(m, viewer_node):  # type: ignore[arg-type]
        return False
    working = {c for c, lv in m.languages.items() if lv not in ("A1", "A2")}
    if call.languages and not working & call.languages:
        return False
    window = call_window(call)
    return not (window and m.availability and overlap(m.availability, *window)[0] == 0)


def ground_truth(
    ds: Dataset, call: Call, *, threshold: float = 0.6, members: Iterable[Member] | None = None
) -> dict[str, float]:
    """Relevant member keys for a call viewed on its own node -> graded gain (share held)."""
    req = call.required
    out: dict[str, float] = {}
    for m in ds.members if members is None else members:
        held = len(req & m.true_concepts) / len(req)
        if held >= threshold and feasible_member(m, call, call.node):
            out[m.key] = held
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profiles", type=int, default=2000)
    ap.add_argument("--calls", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--universe", choices=("esco", "curated"), default="esco")
    args = ap.parse_args()
    ds = generate(args.profiles, args.calls, seed=args.seed, universe=args.universe)
    concepts = {c for m in ds.members for c in m.true_concepts}
    gts = [len(ground_truth(ds, c)) for c in ds.calls]
    print(f"members {len(ds.members)}  calls {len(ds.calls)}  distinct concepts {len(concepts)}")
    print(f"relevant per call: min {min(gts)} median {sorted(gts)[len(gts) // 2]} max {max(gts)}")


if __name__ == "__main__":
    main()
