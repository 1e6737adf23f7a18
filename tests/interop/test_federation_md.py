"""FEDERATION.md's example documents are what the node serves and sends: each ```json block
after an ``<!-- example: NAME -->`` marker must equal the example NAME made by a real node
(federation_examples.py, normalised). When the node's documents change on purpose, rewrite
the blocks with::

    COOPFED_WRITE_EXAMPLES=1 .venv/bin/pytest -p no:xdist tests/interop/test_federation_md.py
"""

from __future__ import annotations

import difflib
import json
import os
import re
from pathlib import Path
from typing import Any

from .federation_examples import make_examples

DOC = Path(__file__).resolve().parents[2] / "FEDERATION.md"
BLOCK = re.compile(r"(<!-- example: (?P<name>[^>]+?) -->\n```json\n)(?P<json>.*?)(\n```)", re.S)


def render(doc: Any) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False)


def test_federation_md_examples_are_what_the_node_sends(make_node: Any) -> None:
    examples = make_examples(make_node)
    text = DOC.read_text(encoding="utf-8")
    documented = [m.group("name") for m in BLOCK.finditer(text)]
    if os.environ.get("COOPFED_WRITE_EXAMPLES") == "1":
        text = BLOCK.sub(
            lambda m: m.group(1) + render(examples.get(m.group("name"), {})) + m.group(4), text
        )
        DOC.write_text(text, encoding="utf-8")
    assert sorted(set(documented)) == sorted(documented), "an example is documented twice"
    missing = sorted(set(examples) - set(documented))
    unknown = sorted(set(documented) - set(examples))
    assert not missing, f"FEDERATION.md lacks <!-- example: NAME --> blocks for {missing}"
    assert not unknown, f"FEDERATION.md documents examples the node does not make: {unknown}"
    differ: list[str] = []
    for m in BLOCK.finditer(text):
        want = render(examples[m.group("name")])
        if m.group("json") != want:
            differ.append(
                f"{m.group('name')}:\n"
                + "\n".join(
                    difflib.unified_diff(
                        m.group("json").splitlines(),
                        want.splitlines(),
                        "FEDERATION.md",
                        "node",
                        n=2,
                    )
                )
            )
    assert not differ, (
        "FEDERATION.md's examples differ from what the node sends (rewrite them with "
        "COOPFED_WRITE_EXAMPLES=1 if the change is intended):\n" + "\n".join(differ)
    )


TERM_ROW = re.compile(r"^\| `(?P<term>[^`]+)` \| `(?P<iri>[^`]+)` \| (?P<type>[^|]+?) \|", re.M)
PREFIXES = {
    "as": "https://www.w3.org/ns/activitystreams#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}


def test_federation_md_lists_every_extension_term_with_its_iri_and_type() -> None:
    """The table under "### Extension terms" is the inline term dict we send, expanded."""
    from profiles.ap.context import COOPFED_CONTEXT

    prefixes = dict(PREFIXES)
    prefixes.update({k: v for k, v in COOPFED_CONTEXT.items() if isinstance(v, str) and "/" in v})

    def expand(value: str) -> str:
        prefix, sep, rest = value.partition(":")
        return prefixes[prefix] + rest if sep and prefix in prefixes else value

    expected = {}
    for term, definition in COOPFED_CONTEXT.items():
        if term in prefixes:
            continue  # a prefix, not a term
        if isinstance(definition, str):
            iri, kind = expand(definition), "—"
        else:
            iri, kind = expand(definition["@id"]), definition.get("@type", "—")
        expected[term] = (iri, kind)
    text = DOC.read_text(encoding="utf-8")
    table = text[text.index("### Extension terms") :]
    table = table[: table.index("\n\n", table.index("| term |"))]
    documented = {
        m.group("term"): (m.group("iri"), m.group("type").replace("`", "").split(" (")[0])
        for m in TERM_ROW.finditer(table)
    }
    assert documented == expected
