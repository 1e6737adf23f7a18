"""The phrase channel: what members and call authors wrote, compared by character n-grams.

A phrase no concept was found for ("kamerajobb", "EU-Förderprogramme") is still evidence:
within one language and between related ones (coreografia / koreografi, Businessplan /
business plan, bilan carbone / bilancio di carbonio) character 3-grams of the words find the
same thing written differently. It is *weaker* evidence than a concept (see
``Weights.phrase_credit``) and only counts from :data:`PHRASE_MIN` similarity up. Measured on
bench/eval_set.py (every call phrase against every member phrase): at 0.5, 22 of the 50
relevant (call, member) pairs meet through a phrase (the others only through concepts), 1 of
the 13 labelled traps does (a member lacking the call's language, whom the language rule
removes anyway) and 3 of the ~1,100 unlabelled pairs ("web development" for "game
development", 0.67). The nearest decoy, "Werbetexte schreiben" for "Förderanträge schreiben",
is at 0.44.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

PHRASE_MIN = 0.5
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def fold(text: str) -> str:
    """Case-fold, strip accents and punctuation: 'Éclairage scénique!' -> 'eclairage scenique'."""
    text = unicodedata.normalize("NFKD", text.casefold())
    text = "".join(c for c in text if not unicodedata.combining(c))
    return " ".join(_WORD.findall(text))


@lru_cache(maxsize=65536)
def grams(text: str) -> frozenset[str]:
    """Character 3-grams of each word padded with spaces, over the whole folded phrase, with
    the words glued too, so that 'business plan' and 'Businessplan' share their n-grams."""
    words = fold(text).split()
    out: set[str] = set()
    for word in (*words, "".join(words)) if len(words) > 1 else words:
        padded = f" {word} "
        out.update(padded[i : i + 3] for i in range(len(padded) - 2))
    return frozenset(out)


def similarity(a: str, b: str) -> float:
    """Dice coefficient of the two phrases' n-gram sets, in [0, 1]."""
    ga, gb = grams(a), grams(b)
    if not ga or not gb:
        return 0.0
    return 2 * len(ga & gb) / (len(ga) + len(gb))


def best_match(wanted: str, phrases: Iterable[str]) -> tuple[float, str]:
    """(similarity, phrase) of the phrase closest to ``wanted``; (0.0, "") if none."""
    best, found = 0.0, ""
    gw = grams(wanted)
    if not gw:
        return best, found
    for p in phrases:
        gp = grams(p)
        if not gp:
            continue
        s = 2 * len(gw & gp) / (len(gw) + len(gp))
        if s > best or (s == best and s > 0 and p < found):
            best, found = s, p
    return best, found
