"""Seeded generator of realistic members and project calls in the import format (JSON Lines).

    uv run python bench/gen_members.py --members 10000 --calls 500 --seed 1 --out DIR \\
        [--bad-lines 1]

Writes DIR/members.jsonl and DIR/calls.jsonl (format: profiles/importers.py). Members live in
AT BE DE ES FR IT NL SE with names, cities and languages of their country; their occupations
and skills mix ESCO IRIs and free text in the member's first language taken from the curated
vocabulary's labels, some with a typo, and a few phrases no vocabulary knows. ``--bad-lines N``
replaces N random member lines with malformed JSON (their line numbers are printed).
"""

from __future__ import annotations

import argparse
import json
import random
import string
from datetime import date, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
VOCABULARY = REPO / "profiles" / "data" / "vocabulary.json"

COUNTRIES: dict[str, dict[str, Any]] = {
    "SE": {
        "langs": ["sv"],
        "cities": ["Stockholm", "Göteborg", "Malmö", "Uppsala", "Umeå", "Örebro"],
        "first": ["Anna", "Erik", "Maja", "Lars", "Elin", "Johan", "Saga", "Oskar", "Linnéa"],
        "last": ["Lindqvist", "Andersson", "Berg", "Nyström", "Holm", "Ekström", "Sjöberg"],
    },
    "DE": {
        "langs": ["de"],
        "cities": ["Berlin", "Hamburg", "München", "Köln", "Leipzig", "Frankfurt am Main"],
        "first": ["Lena", "Jonas", "Mia", "Felix", "Hannah", "Lukas", "Sophie", "Jürgen"],
        "last": ["Müller", "Schmidt", "Weber", "Schäfer", "Becker", "Hoffmann", "Krüger"],
    },
    "AT": {
        "langs": ["de"],
        "cities": ["Wien", "Graz", "Linz", "Salzburg", "Innsbruck"],
        "first": ["Katharina", "Florian", "Magdalena", "Tobias", "Theresa", "Georg"],
        "last": ["Gruber", "Huber", "Wagner", "Pichler", "Steiner", "Moser"],
    },
    "FR": {
        "langs": ["fr"],
        "cities": ["Paris", "Lyon", "Marseille", "Lille", "Nantes", "Toulouse", "Bordeaux"],
        "first": ["Camille", "Léa", "Hugo", "Chloé", "Théo", "Manon", "Étienne", "Inès"],
        "last": ["Martin", "Bernard", "Dubois", "Lefèvre", "Moreau", "Girard", "Fontaine"],
    },
    "BE": {
        "langs": ["nl", "fr"],
        "cities": ["Bruxelles", "Antwerpen", "Gent", "Liège", "Leuven", "Namur"],
        "first": ["Lotte", "Arthur", "Louise", "Wout", "Elise", "Noah", "Margaux"],
        "last": ["Peeters", "Janssens", "Maes", "Dubois", "Lambert", "Claes", "Wouters"],
    },
    "NL": {
        "langs": ["nl"],
        "cities": ["Amsterdam", "Rotterdam", "Utrecht", "Den Haag", "Eindhoven", "Groningen"],
        "first": ["Sanne", "Daan", "Fleur", "Bram", "Noor", "Sem", "Lieke", "Joost"],
        "last": ["de Vries", "Jansen", "van Dijk", "Bakker", "Visser", "Smit", "de Boer"],
    },
    "IT": {
        "langs": ["it"],
        "cities": ["Milano", "Roma", "Torino", "Bologna", "Napoli", "Firenze"],
        "first": ["Giulia", "Marco", "Chiara", "Luca", "Francesca", "Matteo", "Niccolò"],
        "last": ["Rossi", "Russo", "Bianchi", "Romano", "Colombo", "Ricci", "Conti"],
    },
    "ES": {
        "langs": ["es"],
        "cities": ["Madrid", "Barcelona", "Valencia", "Sevilla", "Bilbao", "Zaragoza"],
        "first": ["Lucía", "Pablo", "Sofía", "Alejandro", "Martina", "Javier", "Núria"],
        "last": ["García", "Fernández", "López", "Martínez", "Sánchez", "Pérez", "Gómez"],
    },
}
LEVELS = ["A2", "B1", "B2", "C1", "C2"]
# Phrases no vocabulary links: the import report must list them as unlinked.
UNKNOWN = [
    "qubit-Korbflechten für Drohnen",
    "drönarfotografering under vatten",
    "Zauberwürfel-Coaching",
    "escape room design",
    "xyzzy",
]
SUMMARIES = {
    "en": "Freelancer working on cultural and creative projects.",
    "sv": "Frilansare inom kultur och kreativa projekt.",
    "de": "Freiberuflich in Kultur- und Kreativprojekten tätig.",
    "fr": "Indépendant·e dans des projets culturels et créatifs.",
    "nl": "Freelancer in culturele en creatieve projecten.",
    "it": "Libero professionista in progetti culturali e creativi.",
    "es": "Autónomo en proyectos culturales y creativos.",
}


def typo(rng: random.Random, text: str) -> str:
    """One adjacent swap or dropped letter in a word longer than 5 characters."""
    words = text.split()
    long = [i for i, w in enumerate(words) if len(w) > 5]
    if not long:
        return text
    i = rng.choice(long)
    w = words[i]
    j = rng.randrange(1, len(w) - 2)
    words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2 :] if rng.random() < 0.5 else w[:j] + w[j + 1 :]
    return " ".join(words)


class Generator:
    def __init__(self, seed: int, vocabulary: Path) -> None:
        self.rng = random.Random(seed)
        data = json.loads(vocabulary.read_text(encoding="utf-8"))
        self.concepts = {"skill": [], "occupation": []}
        for c in data["concepts"]:
            self.concepts[c["kind"]].append(c)

    def concept_entry(self, kind: str, lang: str) -> str:
        """An IRI (40 %), a label in ``lang`` (45 %, a fifth with a typo) or unknown text."""
        rng = self.rng
        c = rng.choice(self.concepts[kind])
        roll = rng.random()
        labels = c["labels"].get(lang) or c["labels"]["en"]
        if roll < 0.40:
            return str(c["iri"])
        if roll < 0.97:
            text = rng.choice([labels["preferred"], *labels.get("alt", [])])
            return typo(rng, text) if rng.random() < 0.2 else text
        return rng.choice(UNKNOWN)

    def member(self, n: int) -> dict[str, Any]:
        rng = self.rng
        country = rng.choice(sorted(COUNTRIES))
        info = COUNTRIES[country]
        first, last = rng.choice(info["first"]), rng.choice(info["last"])
        own = rng.choice(info["langs"])
        languages = [{"code": own, "level": "native"}]
        for extra in rng.sample(["en", "de", "fr", "es", "it", "nl", "sv"], rng.randint(0, 2)):
            if extra != own:
                languages.append({"code": extra, "level": rng.choice(LEVELS)})
        start = date(2025, 1, 1) + timedelta(days=rng.randrange(365))
        record: dict[str, Any] = {
            "username": f"{first[:1]}{last}".lower().translate(_ASCII)[:20] + f"_{n}",
            "name": f"{first} {last}",
            "email": f"member{n}@example.{country.lower()}",
            "summary": SUMMARIES[own],
            "country": country,
            "city": rng.choice(info["cities"]),
            "languages": languages,
            "occupations": [
                self.concept_entry("occupation", own) for _ in range(rng.randint(1, 2))
            ],
            "skills": [self.concept_entry("skill", own) for _ in range(rng.randint(3, 8))],
            "remote": rng.random() < 0.4,
            "visibility": rng.choices(["public", "partners", "coop"], [6, 3, 1])[0],
        }
        if rng.random() < 0.7:
            record["available_from"] = start.isoformat()
            record["available_until"] = (start + timedelta(days=rng.randint(14, 240))).isoformat()
        return record

    def call(self, n: int, authors: list[dict[str, Any]]) -> dict[str, Any]:
        rng = self.rng
        author = rng.choice(authors)
        lang = author["languages"][0]["code"]
        starts = date(2025, 3, 1) + timedelta(days=rng.randrange(300))
        occupation = self.concept_entry("occupation", lang)
        return {
            "ref": f"ext-{n:06d}",
            "author": author["username"],
            "title": f"{author['city']}: project {n}",
            "description": SUMMARIES[lang],
            "language": lang,
            "skills_required": [occupation, *(self.concept_entry("skill", lang) for _ in range(2))],
            "skills_optional": [self.concept_entry("skill", lang)],
            "languages": sorted({lang, "en"}),
            "country": author["country"],
            "city": author["city"],
            "remote": rng.random() < 0.3,
            "starts": starts.isoformat(),
            "ends": (starts + timedelta(days=rng.randint(7, 120))).isoformat(),
            "deadline": (starts - timedelta(days=rng.randint(1, 30))).isoformat(),
            "compensation": f"€{rng.randrange(200, 600, 50)}/day",
            "visibility": rng.choices(["public", "partners", "coop"], [7, 2, 1])[0],
        }


_ASCII = str.maketrans("åäöüéèëïçñàìíóúòß ", "aaoueeeicnaiioous_")
_ALLOWED = set(string.ascii_lowercase + string.digits + "_")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--bad-lines", type=int, default=0, help="malformed member lines")
    parser.add_argument("--vocabulary", type=Path, default=VOCABULARY)
    args = parser.parse_args(argv)
    gen = Generator(args.seed, args.vocabulary)
    members = [gen.member(n) for n in range(1, args.members + 1)]
    for m in members:
        m["username"] = "".join(c if c in _ALLOWED else "_" for c in m["username"])[-30:].lstrip(
            "_"
        )
    calls = [gen.call(n, members) for n in range(1, args.calls + 1)] if members else []
    lines = [json.dumps(m, ensure_ascii=False) for m in members]
    bad = sorted(gen.rng.sample(range(len(lines)), min(args.bad_lines, len(lines))))
    for i in bad:
        lines[i] = lines[i][: len(lines[i]) // 2]  # cut in the middle: not JSON any more
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "members.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (args.out / "calls.jsonl").write_text(
        "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in calls), encoding="utf-8"
    )
    print(f"wrote {len(members)} members, {len(calls)} calls to {args.out}")
    if bad:
        print("malformed member lines: " + ", ".join(str(i + 1) for i in bad))


if __name__ == "__main__":
    main()
