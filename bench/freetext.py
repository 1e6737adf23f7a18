"""How people type skills: seeded noisy variants of vocabulary labels, in seven languages.

Two uses:
- ``NOISE_KINDS`` / ``noisy(label, kind, rng)``: one controlled change of a label (a typo of
  each kind, case/accents dropped, a hyphen/space/compound change), for measuring the linker
  on each kind separately (bench_linking.py).
- ``FreeText(concepts, seed).text_of(iri, lang)``: what a member might write for a concept in
  their language: a preferred or alternative label, sometimes with a typo, sometimes
  lower-cased, sometimes wrapped in a filler ("erfahren in …", "… (5 Jahre)", "bra på …").
  Plugs into gen_data.to_profile(text_of=...) and bench_match.py --free-text.

Everything is driven by a ``random.Random`` passed in or seeded here, so runs reproduce.
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

# Neighbouring keys on a QWERTY/QWERTZ/AZERTY-ish keyboard: substitutions are usually slips
# to an adjacent key, not random letters.
_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_NEIGHBOURS: dict[str, str] = {}
for _r, _row in enumerate(_ROWS):
    for _i, _ch in enumerate(_row):
        near = _row[max(0, _i - 1) : _i] + _row[_i + 1 : _i + 2]
        for _other in (_r - 1, _r + 1):
            if 0 <= _other < len(_ROWS):
                near += _ROWS[_other][max(0, _i - 1) : _i + 1]
        _NEIGHBOURS[_ch] = near

TYPO_KINDS = ("deletion", "transposition", "substitution", "doubled")
NOISE_KINDS = (*TYPO_KINDS, "case_accents", "spacing")

# Fillers around the label, per language; "{}" is the label, "{n}" a number of years.
FILLERS: dict[str, tuple[str, ...]] = {
    "en": ("experienced in {}", "{} ({n} years)", "good at {}", "{} - freelance"),
    "de": ("erfahren in {}", "{} ({n} Jahre)", "Kenntnisse in {}", "{} – Grundkenntnisse"),
    "sv": ("bra på {}", "{} ({n} år)", "erfarenhet av {}", "{} – frilans"),
    "fr": ("expérience en {}", "{} ({n} ans)", "compétences en {}", "{} - indépendant"),
    "nl": ("ervaring met {}", "{} ({n} jaar)", "goed in {}", "{} - freelance"),
    "it": ("esperienza in {}", "{} ({n} anni)", "competenze di {}", "{} - freelance"),
    "es": ("experiencia en {}", "{} ({n} años)", "conocimientos de {}", "{} - autónomo"),
}


def _letter_positions(text: str) -> list[int]:
    """Positions where a typo is plausible: letters inside words of 4+ letters, not the first
    letter of a word (people rarely get that one wrong)."""
    out: list[int] = []
    start = None
    for i, ch in enumerate(text + " "):
        if ch.isalpha():
            if start is None:
                start = i
        elif start is not None:
            if i - start >= 4:
                out.extend(range(start + 1, i))
            start = None
    return out


def typo(text: str, kind: str, rng: random.Random) -> str:
    """One typo of ``kind`` (deletion, transposition, substitution, doubled). Labels without a
    word of 4+ letters come back unchanged."""
    pos = _letter_positions(text)
    if not pos:
        return text
    i = rng.choice(pos)
    if kind == "deletion":
        return text[:i] + text[i + 1 :]
    if kind == "transposition":
        j = i if i + 1 < len(text) and text[i + 1].isalpha() else i - 1
        if text[j] == text[j + 1]:  # swapping equal letters changes nothing: delete instead
            return text[:j] + text[j + 1 :]
        return text[:j] + text[j + 1] + text[j] + text[j + 2 :]
    if kind == "substitution":
        ch = text[i]
        near = _NEIGHBOURS.get(ch.lower(), "aeiou")
        new = rng.choice([c for c in near if c != ch.lower()] or ["e"])
        return text[:i] + (new.upper() if ch.isupper() else new) + text[i + 1 :]
    if kind == "doubled":
        return text[: i + 1] + text[i] + text[i + 1 :]
    raise ValueError(kind)


def strip_case_accents(text: str) -> str:
    """'Éclairage scénique' -> 'eclairage scenique' (punctuation kept)."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def respace(text: str, rng: random.Random) -> str:
    """A hyphen/space/compound change: 'sound mixing' -> 'soundmixing' or 'sound-mixing';
    'e-learning' -> 'e learning' or 'elearning'; 'Tontechnik' -> 'Ton technik'."""
    words = text.split()
    if "-" in text:
        return text.replace("-", rng.choice((" ", "")), 1)
    if len(words) > 1:
        i = rng.randrange(len(words) - 1)
        glue = rng.choice(("", "-"))
        return " ".join(words[:i] + [words[i] + glue + words[i + 1]] + words[i + 2 :])
    word = words[0] if words else text
    if len(word) < 8:
        return text
    cut = rng.randrange(4, len(word) - 3)  # split a compound: both halves 4+ letters
    return word[:cut] + rng.choice((" ", "-")) + word[cut:].lower()


def noisy(label: str, kind: str, rng: random.Random) -> str:
    """``label`` with one change of ``kind`` (one of NOISE_KINDS)."""
    if kind in TYPO_KINDS:
        return typo(label, kind, rng)
    if kind == "case_accents":
        return strip_case_accents(label)
    if kind == "spacing":
        return respace(label, rng)
    raise ValueError(kind)


def fill(label: str, lang: str, rng: random.Random) -> str:
    template = rng.choice(FILLERS.get(lang, FILLERS["en"]))
    return template.replace("{n}", str(rng.randint(1, 15))).replace("{}", label)


class FreeText:
    """Seeded writer of free-text skills. ``concepts`` are the curated vocabulary's entries
    (``{"iri", "labels": {lang: {"preferred", "alt": [...]}}}``); concepts without a label in
    the asked language fall back to English.

    The output depends on the seed and on the order of calls (one random stream)."""

    def __init__(
        self,
        concepts: Iterable[Mapping[str, Any]],
        seed: int = 0,
        *,
        p_alt: float = 0.4,
        p_typo: float = 0.2,
        p_lower: float = 0.4,
        p_filler: float = 0.2,
    ) -> None:
        self.rng = random.Random(f"freetext-{seed}")
        self.labels: dict[str, dict[str, tuple[str, list[str]]]] = {
            c["iri"]: {
                lang: (names["preferred"], list(names.get("alt", [])))
                for lang, names in c["labels"].items()
            }
            for c in concepts
        }
        self.p_alt, self.p_typo, self.p_lower, self.p_filler = p_alt, p_typo, p_lower, p_filler

    def text_of(self, iri: str, lang: str) -> str:
        """What a member writing in ``lang`` types for concept ``iri``."""
        rng = self.rng
        names = self.labels.get(iri, {})
        preferred, alts = names.get(lang) or names.get("en") or (iri, [])
        text = rng.choice(alts) if alts and rng.random() < self.p_alt else preferred
        if "/" in text and rng.random() < 0.7:
            text = rng.choice(text.split("/")).strip() or text  # 'acteur/actrice' -> 'actrice'
        if rng.random() < self.p_typo:
            text = typo(text, rng.choice(TYPO_KINDS), rng)
        if rng.random() < self.p_lower:
            text = text.lower()
        if rng.random() < self.p_filler:
            text = fill(text, lang, rng)
        return text


class Relinker:
    """Concept -> free text in a language (``FreeText``) -> ``Linker.link_one`` -> concept.

    What a node sees when members type their skills instead of picking them: the concept the
    linker auto-links, or nothing. Link results are memoised per (text, language, kind).
    ``outcomes[lang]`` counts [texts, linked right, linked to another concept, not linked].
    """

    def __init__(self, writer: FreeText, linker: Any, kinds: Mapping[str, str]) -> None:
        self.writer, self.linker, self.kinds = writer, linker, kinds
        self._memo: dict[tuple[str, str, str | None], str | None] = {}
        self.outcomes: dict[str, list[int]] = {}

    def __call__(self, iri: str, lang: str) -> str | None:
        text = self.writer.text_of(iri, lang)
        kind = self.kinds.get(iri)
        key = (text, lang, kind)
        if key not in self._memo:
            found = self.linker.link_one(text, lang, kind=kind)
            self._memo[key] = found.iri if found else None
        got = self._memo[key]
        for k in (lang, "all"):
            row = self.outcomes.setdefault(k, [0, 0, 0, 0])
            row[0] += 1
            row[1 if got == iri else 3 if got is None else 2] += 1
        return got

    def many(self, iris: Iterable[str], lang: str) -> frozenset[str]:
        """The concepts that survive the round trip (sorted first: reproducible streams)."""
        return frozenset(x for x in (self(i, lang) for i in sorted(iris)) if x is not None)
