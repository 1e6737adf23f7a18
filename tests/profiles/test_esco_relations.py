"""import-esco reads ISCO groups and occupationSkillRelations.csv; the vocabulary snapshot
carries occupation -> skill relations, which the match graph turns into implied skills."""

from __future__ import annotations

import csv
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from node import db as node_db
from profiles import match_data
from profiles.models import Concept, ConceptRelation
from profiles.vocabulary import Vocabulary, import_esco, load_curated

E = "http://data.europa.eu/esco/"
GROUP = E + "isco/C2643"
OCC = E + "occupation/00000000-0000-0000-0000-00000000aaaa"
SKILL = E + "skill/00000000-0000-0000-0000-00000000bbbb"
OTHER = E + "skill/00000000-0000-0000-0000-00000000cccc"


def write(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(header)
        out.writerows(rows)


def esco_folder(tmp_path: Path) -> Path:
    d = tmp_path / "esco"
    d.mkdir()
    head = ["conceptType", "conceptUri", "iscoGroup", "preferredLabel", "altLabels", "code"]
    write(
        d / "occupations_sv.csv",
        head,
        [
            ["ISCOGroup", GROUP, "", "Översättare, tolkar och andra lingvister", "", "2643"],
            ["Occupation", OCC, GROUP, "språkgranskare", "korrekturläsare av översättningar", ""],
        ],
    )
    write(
        d / "skills_en.csv",
        ["conceptType", "conceptUri", "preferredLabel", "altLabels"],
        [
            ["KnowledgeSkillCompetence", SKILL, "check translations", ""],
            ["KnowledgeSkillCompetence", OTHER, "glossary work", ""],
        ],
    )
    write(
        d / "occupationSkillRelations.csv",
        ["occupationUri", "relationType", "skillType", "skillUri"],
        [
            [OCC, "essential", "skill/competence", SKILL],
            [OCC, "optional", "skill/competence", OTHER],
            [OCC, "essential", "skill/competence", E + "skill/unknown"],
        ],
    )
    return d


def test_isco_groups_and_relations_are_imported(throwaway_db, tmp_path):
    db = throwaway_db("esco")
    node_db.create_all(db.engine)
    with Session(db.engine) as s:
        load_curated(s)
        report = import_esco(s, esco_folder(tmp_path))
        s.commit()
        assert "occupationSkillRelations.csv" in report.files
        group = s.get(Concept, GROUP)
        assert group is not None and group.kind == "occupation" and group.codes == "2643"
        occ = s.get(Concept, OCC)
        assert occ is not None and occ.codes == "2643"
        assert report.relations_added == 2  # the unknown skill is skipped
        vocab = Vocabulary.from_session(s)
        # Only essential skills are implied.
        assert vocab.implies[OCC] == frozenset({SKILL})
        assert match_data.concept_graph(vocab).implies(OCC) == frozenset({SKILL})
        # The linker finds the ISCO group by its Swedish title.
        best = vocab.linker.link("översättare, tolkar och andra lingvister", "sv", limit=1)
        assert best and best[0].iri == GROUP
        # Importing again adds nothing.
        again = import_esco(s, tmp_path / "esco")
        assert again.relations_added == 0
        total = s.scalar(select(func.count()).select_from(ConceptRelation))
        assert total == report.relations_added + len(
            {(o, k) for o, ks in Vocabulary.from_curated().implies.items() for k in ks}
        )
