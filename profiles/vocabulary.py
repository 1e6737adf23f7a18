"""Skills and occupations: the shipped curated vocabulary, the operator's ESCO import, labels.

Concepts are ESCO IRIs. Labels exist per language; display picks the viewer's language, then
English, then any. ``Vocabulary`` is an in-memory snapshot (labels + linker) rebuilt when the
``vocabulary_revision`` in ``node_meta`` changes, so every web/worker process sees an import.
"""

from __future__ import annotations

import csv
import json
import threading
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from profiles import text_model
from profiles.linking import LANGUAGES, Label, Linker
from profiles.models import Concept, ConceptLabel, ConceptRelation, NodeMeta

REVISION_KEY = "vocabulary_revision"
ESCO_VERSION_KEY = "esco_version"
# ISCO-08 groups are occupations too: ~45 % of Swedish job titles map to a group, not to an
# ESCO occupation (MELO benchmark), and a group's code gives partial credit to its members.
ESCO_KINDS = {
    "Occupation": "occupation",
    "ISCOGroup": "occupation",
    "KnowledgeSkillCompetence": "skill",
}

csv.field_size_limit(10_000_000)


def curated_path() -> Path:
    return Path(str(resources.files("profiles") / "data" / "vocabulary.json"))


def load_curated_file(path: Path | None = None) -> dict[str, Any]:
    with (path or curated_path()).open(encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data


def bump_revision(session: Session) -> str:
    revision = uuid.uuid4().hex
    meta = session.get(NodeMeta, REVISION_KEY)
    if meta is None:
        session.add(NodeMeta(key=REVISION_KEY, value=revision))
    else:
        meta.value = revision
    return revision


def current_revision(session: Session) -> str:
    meta = session.get(NodeMeta, REVISION_KEY)
    return meta.value if meta else ""


def _existing_labels(session: Session) -> tuple[set[tuple[str, str, str]], set[tuple[str, str]]]:
    rows = session.execute(
        select(
            ConceptLabel.concept_iri, ConceptLabel.lang, ConceptLabel.label, ConceptLabel.preferred
        )
    ).all()
    labels = {(r[0], r[1], r[2]) for r in rows}
    preferred = {(r[0], r[1]) for r in rows if r[3]}
    return labels, preferred


@dataclass
class ImportReport:
    concepts_added: int = 0
    concepts_seen: int = 0
    labels_added: int = 0
    relations_added: int = 0
    files: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)


class _Loader:
    """Adds concepts and labels, never duplicating, in chunked bulk inserts."""

    CHUNK = 5000

    def __init__(self, session: Session, source: str) -> None:
        self.session = session
        self.source = source
        self.concepts = {c.iri: c for c in session.scalars(select(Concept))}
        self.labels, self.preferred = _existing_labels(session)
        self.pending: list[dict[str, Any]] = []
        self.report = ImportReport()

    def concept(self, iri: str, kind: str, group: str | None = None, codes: str = "") -> None:
        self.report.concepts_seen += 1
        existing = self.concepts.get(iri)
        if existing is None:
            existing = Concept(iri=iri, kind=kind, source=self.source, group=group, codes=codes)
            self.session.add(existing)
            self.concepts[iri] = existing
            self.report.concepts_added += 1
        else:
            if group and not existing.group:
                existing.group = group
            if codes and not existing.codes:
                existing.codes = codes

    def label(self, iri: str, lang: str, text: str, preferred: bool) -> None:
        text = " ".join(text.split())[:255]
        if not text or (iri, lang, text) in self.labels:
            return
        if preferred and (iri, lang) in self.preferred:
            preferred = False  # the curated (or first) preferred label stays the one we show
        self.labels.add((iri, lang, text))
        if preferred:
            self.preferred.add((iri, lang))
        self.pending.append(
            {"concept_iri": iri, "lang": lang, "label": text, "preferred": preferred}
        )
        if len(self.pending) >= self.CHUNK:
            self.flush()

    def relations(self, pairs: Iterable[tuple[str, str, bool]]) -> int:
        """Add occupation -> skill relations between known concepts, never duplicating."""
        query = select(ConceptRelation.occupation_iri, ConceptRelation.skill_iri)
        have = {(occ, skill) for occ, skill in self.session.execute(query)}
        rows = []
        for occ, skill, essential in pairs:
            kinds = (self.concepts.get(occ), self.concepts.get(skill))
            if (occ, skill) in have or None in kinds:
                continue
            if kinds[0].kind != "occupation" or kinds[1].kind != "skill":  # type: ignore[union-attr]
                continue
            have.add((occ, skill))
            rows.append({"occupation_iri": occ, "skill_iri": skill, "essential": essential})
        self.flush()
        for i in range(0, len(rows), self.CHUNK):
            self.session.execute(insert(ConceptRelation), rows[i : i + self.CHUNK])
        return len(rows)

    def flush(self) -> None:
        self.session.flush()  # concepts first: labels reference them
        if self.pending:
            self.session.execute(insert(ConceptLabel), self.pending)
            self.report.labels_added += len(self.pending)
            self.pending = []


def load_curated(session: Session, path: Path | None = None) -> ImportReport:
    """Load the shipped vocabulary (idempotent). The caller commits."""
    data = load_curated_file(path)
    loader = _Loader(session, "curated")
    for c in data["concepts"]:
        loader.concept(c["iri"], c["kind"], c.get("group"), " ".join(c.get("esco_codes", [])))
    loader.flush()
    for c in data["concepts"]:
        for lang, labels in c["labels"].items():
            loader.label(c["iri"], lang, labels["preferred"], True)
            for alt in labels.get("alt", []):
                loader.label(c["iri"], lang, alt, False)
    loader.flush()
    loader.report.relations_added = loader.relations(
        (occ, skill, True) for occ, skills in data.get("relations", {}).items() for skill in skills
    )
    bump_revision(session)
    loader.report.languages = sorted({lang for c in data["concepts"] for lang in c["labels"]})
    return loader.report


def _hierarchy_codes(directory: Path) -> dict[str, str]:
    """Optional: skill hierarchy paths (S/K/A/T/L codes) if the folder has them."""
    path = directory / "skill_hierarchy_codes_en.tsv"
    if not path.exists():
        return {}
    codes: dict[str, str] = {}
    with path.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            try:
                paths = json.loads(row.get("hierarchy_paths") or "[]")
            except json.JSONDecodeError:
                continue
            deepest = {next((c for c in reversed(p) if c), "") for p in paths if p}
            codes[row["conceptUri"]] = " ".join(sorted(c for c in deepest if c))
    return codes


def _set_version(session: Session, version: str) -> None:
    meta = session.get(NodeMeta, ESCO_VERSION_KEY)
    if meta is None:
        session.add(NodeMeta(key=ESCO_VERSION_KEY, value=version))
    else:
        meta.value = version


def _isco_code(row: dict[str, str], iri: str) -> str:
    """ISCO code of an occupation row (its group's code) or of an ISCO group row (its own)."""
    if row.get("conceptType") == "ISCOGroup":
        code = (row.get("code") or "").strip() or iri.rsplit("/C", 1)[-1]
    else:
        code = (row.get("iscoGroup") or "").rsplit("/C", 1)[-1]
    return code if code.isdigit() else ""


def _relation_rows(path: Path) -> Iterable[tuple[str, str, bool]]:
    """(occupation, skill, essential) rows of ESCO's occupationSkillRelations.csv."""
    with path.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            occ, skill = (row.get("occupationUri") or "").strip(), (row.get("skillUri") or "")
            if occ and skill.strip():
                yield occ, skill.strip(), (row.get("relationType") or "essential") == "essential"


def import_esco(
    session: Session,
    directory: Path,
    *,
    progress: Callable[[str, int], None] | None = None,
) -> ImportReport:
    """Import the official ESCO CSV download from ``directory``.

    Reads ``occupations_<lang>.csv`` and ``skills_<lang>.csv`` for any subset of our languages, by
    header names (conceptType, conceptUri, preferredLabel, altLabels, iscoGroup, code): ESCO
    occupations, skills and ISCO groups (kept as occupations with their ISCO code); and
    ``occupationSkillRelations.csv`` (occupationUri, relationType, skillUri) when present: the
    skills each occupation implies. ``progress``
    is called with (file name, rows read so far). The caller commits.
    """
    directory = Path(directory)
    files = [
        (directory / f"{stem}_{lang}.csv", lang)
        for stem in ("occupations", "skills")
        for lang in LANGUAGES
        if (directory / f"{stem}_{lang}.csv").exists()
    ]
    if not files:
        raise FileNotFoundError(
            f"no occupations_<lang>.csv or skills_<lang>.csv in {directory} "
            f"(languages: {', '.join(LANGUAGES)})"
        )
    codes = _hierarchy_codes(directory)
    loader = _Loader(session, "esco")
    for path, lang in files:
        loader.report.files.append(path.name)
        with path.open(encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            missing = {"conceptType", "conceptUri", "preferredLabel"} - set(reader.fieldnames or [])
            if missing:
                raise ValueError(f"{path.name}: missing columns {', '.join(sorted(missing))}")
            for n, row in enumerate(reader, 1):
                kind = ESCO_KINDS.get(row["conceptType"])
                iri = (row.get("conceptUri") or "").strip()
                if kind is None or not iri.startswith("http://data.europa.eu/esco/"):
                    continue
                isco = _isco_code(row, iri) if kind == "occupation" else ""
                loader.concept(iri, kind, None, codes.get(iri, isco))
                loader.label(iri, lang, row.get("preferredLabel") or "", True)
                for alt in (row.get("altLabels") or "").splitlines():
                    loader.label(iri, lang, alt, False)
                if progress and n % 500 == 0:
                    progress(path.name, n)
        loader.flush()
        if progress:
            progress(path.name, -1)
    relations = directory / "occupationSkillRelations.csv"
    if relations.exists():
        loader.report.files.append(relations.name)
        loader.report.relations_added = loader.relations(_relation_rows(relations))
    _set_version(session, f"ESCO (imported from {directory.name})")
    bump_revision(session)
    loader.report.languages = sorted({lang for _, lang in files})
    return loader.report


_LAST_LINKER_LOCK = threading.Lock()
_last_linker: tuple[tuple[tuple[Label, ...], tuple[tuple[str, str], ...]], Linker] | None = None


def shared_linker(labels: list[Label], kinds: dict[str, str]) -> Linker:
    """A :class:`Linker` for ``labels`` and ``kinds``: the one built last in this process when
    they are the same (a revision bump that changed no label; several nodes of one vocabulary
    in a process, as in tests and the demo), else a new one. Building costs seconds and
    tens of MB; comparing the inputs costs milliseconds. A Linker is read-only once built."""
    global _last_linker
    key = (tuple(labels), tuple(sorted(kinds.items())))
    with _LAST_LINKER_LOCK:
        if _last_linker is not None and _last_linker[0] == key:
            return _last_linker[1]
    # Text similarity knows the shipped vocabulary's labels (profiles.text_model); labels only
    # an ESCO import brought take part by their words.
    linker = Linker(labels, kinds, text_model.shipped_vectors())
    with _LAST_LINKER_LOCK:
        _last_linker = (key, linker)
    return linker


class Vocabulary:
    """A read-only snapshot of concepts and labels for display and linking."""

    def __init__(
        self,
        revision: str,
        kinds: dict[str, str],
        codes: dict[str, tuple[str, ...]],
        groups: dict[str, str | None],
        preferred: dict[str, dict[str, str]],
        labels: list[Label],
        implies: dict[str, frozenset[str]] | None = None,
    ) -> None:
        self.revision = revision
        # occupation IRI -> the (essential) skills it implies
        self.implies = implies or {}
        self.kinds = kinds
        self.codes = codes
        self.groups = groups
        self._preferred = preferred
        self.linker = shared_linker(labels, kinds)

    def __contains__(self, iri: object) -> bool:
        return iri in self.kinds

    def label(self, iri: str, lang: str) -> str:
        """The concept's name in ``lang``, else English, else any language, else the IRI."""
        names = self._preferred.get(iri)
        if not names:
            return iri.rsplit("/", 1)[-1]
        return names.get(lang) or names.get("en") or next(iter(names.values()))

    def has_label(self, iri: str, lang: str) -> bool:
        return lang in self._preferred.get(iri, {})

    def labels(self, iris: Iterable[str], lang: str) -> list[tuple[str, str]]:
        """(iri, label) pairs sorted by label in the viewer's language."""
        return sorted(((i, self.label(i, lang)) for i in iris), key=lambda p: p[1].casefold())

    @classmethod
    def from_curated(cls, path: Path | None = None) -> Vocabulary:
        """The shipped vocabulary without a database (benchmarks, tests): what
        :func:`load_curated` into an empty node followed by :meth:`from_session` gives."""
        data = load_curated_file(path)
        kinds: dict[str, str] = {}
        codes: dict[str, tuple[str, ...]] = {}
        groups: dict[str, str | None] = {}
        preferred: dict[str, dict[str, str]] = defaultdict(dict)
        labels: list[Label] = []
        for c in data["concepts"]:
            iri = c["iri"]
            kinds[iri] = c["kind"]
            codes[iri] = tuple(c.get("esco_codes", ()))
            groups[iri] = c.get("group")
            for lang, names in c["labels"].items():
                preferred[iri][lang] = names["preferred"]
                labels.append(Label(iri, lang, names["preferred"], True))
                labels.extend(Label(iri, lang, alt) for alt in names.get("alt", []))
        implies = {occ: frozenset(sk) for occ, sk in data.get("relations", {}).items()}
        return cls("curated", kinds, codes, groups, dict(preferred), labels, implies)

    @classmethod
    def from_session(cls, session: Session) -> Vocabulary:
        revision = current_revision(session)
        kinds: dict[str, str] = {}
        codes: dict[str, tuple[str, ...]] = {}
        groups: dict[str, str | None] = {}
        for iri, kind, code, group in session.execute(
            select(Concept.iri, Concept.kind, Concept.codes, Concept.group)
        ):
            kinds[iri] = kind
            codes[iri] = tuple(code.split()) if code else ()
            groups[iri] = group
        preferred: dict[str, dict[str, str]] = defaultdict(dict)
        labels: list[Label] = []
        for iri, lang, text, pref in session.execute(
            select(
                ConceptLabel.concept_iri,
                ConceptLabel.lang,
                ConceptLabel.label,
                ConceptLabel.preferred,
            ).order_by(ConceptLabel.id)
        ):
            labels.append(Label(iri, lang, text, pref))
            # The preferred label wins; a concept without one in this language shows its
            # first alternative label.
            if pref or lang not in preferred[iri]:
                preferred[iri][lang] = text
        implies: dict[str, set[str]] = defaultdict(set)
        query = select(ConceptRelation.occupation_iri, ConceptRelation.skill_iri)
        for occ, skill in session.execute(query.where(ConceptRelation.essential)):
            implies[occ].add(skill)
        frozen = {occ: frozenset(sk) for occ, sk in implies.items()}
        return cls(revision, kinds, codes, groups, dict(preferred), labels, frozen)


class VocabularyCache:
    """Holds the current snapshot; rebuilds it when another process bumped the revision."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._vocab: Vocabulary | None = None

    def get(self, session: Session) -> Vocabulary:
        revision = current_revision(session)
        vocab = self._vocab
        if vocab is not None and vocab.revision == revision:
            return vocab
        with self._lock:
            if self._vocab is None or self._vocab.revision != revision:
                self._vocab = Vocabulary.from_session(session)
            return self._vocab

    def invalidate(self) -> None:
        self._vocab = None
