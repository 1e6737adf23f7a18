"""Text similarity (profiles.text_model): the shipped label vectors, linking by meaning where the
words say nothing, and the engine in forked processes (gunicorn)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from profiles import text_model
from profiles.linking import Label, Linker, confidence, normalise
from profiles.vocabulary import load_curated_file

ESCO = "http://data.europa.eu/esco/"
# (what a member wrote, language, kind, the concept meant, what the words alone chose): the
# text is not a label of the vocabulary (removed below) and shares no telling word with one.
BY_MEANING = [
    ("Lichtgestaltung", "de", "skill", "skill/935d6f91-60c7-4eec-b6e0-255f96fa37d3"),
    ("Orchesterleitung", "de", "skill", "skill/a0317bcb-de20-41ee-a63a-6985b53f91cf"),
    ("skriva sångtexter", "sv", "skill", "skill/6034b475-1c5c-4695-a0db-46a7bfa4537c"),
    ("repetitieschema", "nl", "skill", "skill/05bc7677-5a64-4e0c-ade3-0140348d4125"),
    ("montage lumière", "fr", "skill", "skill/9cc78400-9ba9-4ffd-9ef5-59e2cd657035"),
]


def curated_labels(without: set[str]) -> tuple[list[Label], dict[str, str]]:
    labels, kinds = [], {}
    for c in load_curated_file()["concepts"]:
        kinds[c["iri"]] = c["kind"]
        for lang, names in c["labels"].items():
            for text in [names["preferred"], *names.get("alt", [])]:
                if normalise(text) not in without:
                    labels.append(Label(c["iri"], lang, text, text == names["preferred"]))
    return labels, kinds


def test_the_shipped_vectors_cover_every_label_of_the_shipped_vocabulary():
    vectors = text_model.LabelVectors.load()
    texts = text_model.curated_label_texts()
    assert len(texts) > 10_000
    missing = sorted(t for t in texts if t not in vectors)
    assert not missing, f"run `make label-vectors` ({len(missing)} labels without a vector)"
    norms = np.linalg.norm(vectors.matrix(sorted(texts)[:200]), axis=1)
    assert np.allclose(norms, 1.0, atol=0.01)


def test_text_without_a_telling_word_links_by_meaning_and_is_proposed_not_linked():
    if not text_model.enabled():
        pytest.skip("text similarity needs x86-64 with AVX2 (and COOPFED_TEXT_MODEL not off)")
    labels, kinds = curated_labels({normalise(text) for text, *_ in BY_MEANING})
    words = Linker(labels, kinds)
    meaning = Linker(labels, kinds, text_model.shipped_vectors())
    for text, lang, kind, iri in BY_MEANING:
        assert words.link(text, lang, kind=kind, limit=1)[0].iri != ESCO + iri, text
        found = meaning.link(text, lang, kind=kind, limit=3)
        assert found[0].iri == ESCO + iri, text
        # Meaning orders; only words make a link automatic.
        assert confidence(text, found) != "link", text
    # Where the words are conclusive, meaning is not asked and changes nothing.
    # Nor where there are no words of ours at all: meaning finds something near anything.
    for text in ["Lichtdesign", "ljudtekniker", "éclairage scénique", "xyzzyq", "qqxzzv"]:
        assert meaning.link(text, kind=None, limit=3) == words.link(text, kind=None, limit=3)


def test_off_means_words_alone(monkeypatch):
    monkeypatch.setenv("COOPFED_TEXT_MODEL", "off")
    text_model.enabled.cache_clear()
    try:
        assert not text_model.enabled()
        labels, kinds = curated_labels(set())
        assert Linker(labels[:50], kinds, text_model.LabelVectors.load())._meaning is None
    finally:
        monkeypatch.delenv("COOPFED_TEXT_MODEL")
        text_model.enabled.cache_clear()


def test_the_engine_works_in_a_process_forked_after_it_was_used():
    """gunicorn loads the app in its master, then forks the web workers: an engine used before
    the fork must not hang the workers (a multi-threaded OpenMP pool would)."""
    if not text_model.enabled():
        pytest.skip("text similarity needs x86-64 with AVX2 (and COOPFED_TEXT_MODEL not off)")
    code = textwrap.dedent(
        """
        import os
        from profiles import text_model
        before = text_model.embed(["ljudtekniker"])[0]
        pid = os.fork()
        if pid == 0:
            after = text_model.embed(["ljudtekniker", "Tontechniker"])
            os._exit(0 if abs(float(after[0] @ before) - 1.0) < 1e-4 else 3)
        _, status = os.waitpid(pid, 0)
        raise SystemExit(os.waitstatus_to_exitcode(status))
        """
    )
    done = subprocess.run([sys.executable, "-c", code], timeout=60, capture_output=True)
    assert done.returncode == 0, done.stderr.decode()[-2000:]


def test_labels_without_a_vector_take_no_memory_and_stay_neutral_by_meaning():
    # An operator's full ESCO import adds concepts whose labels the shipped vectors do not
    # cover: the meaning side keeps no (zero) rows for them; such a concept found by its words
    # keeps the meaning score a zero vector had (0: below any concept near the text).
    if not text_model.enabled():
        pytest.skip("text similarity needs x86-64 with AVX2 (and COOPFED_TEXT_MODEL not off)")
    labels, kinds = curated_labels(set())
    with_vectors = len(labels)
    fake = [f"{ESCO}skill/imported-{i}" for i in range(3000)]
    for i, iri in enumerate(fake):
        kinds[iri] = "skill"
        labels += [Label(iri, lang, f"zqimported {lang} {i}", True) for lang in ("en", "de")]
    ranker = Linker(labels, kinds, text_model.shipped_vectors())._meaning
    assert ranker is not None
    index = ranker._index
    assert sum(len(block) for block in index._blocks) == with_vectors
    assert len(index.concepts) == len({label.iri for label in labels[:with_vectors]})
    real = next(label.iri for label in labels if kinds[label.iri] == "skill")
    best = dict.fromkeys((fake[0], real), ((0.0, -0.5, 0.0, 0.0), 0, 0.5))
    out = ranker.rerank(best, "Lichtgestaltung", "de", "skill", np.zeros(len(labels)))
    sunk = 10.0 - 0.5 * 0.5  # what a concept of another kind gets
    assert out[fake[0]][0][0] < sunk
    assert out[fake[0]][0][0] > out[real][0][0]  # a concept with vectors, near or not, first
