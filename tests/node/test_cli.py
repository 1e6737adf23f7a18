"""The `coopfed` command: init, members, imports, ESCO, run and worker."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.request import urlopen

import pytest
from click.testing import CliRunner

from node.app import create_app
from node.cli import cli
from node.settings import Settings
from profiles.vocabulary import load_curated_file
from tests.conftest import ESCO_DIR, need

PASSWORD = "a long enough password"
COOPFED = Path(sys.executable).parent / "coopfed"  # the installed entry point (node.cli:main)


def invoke(instance, *args, input=None):
    return CliRunner().invoke(cli, ["--instance", str(instance), *args], input=input)


@pytest.fixture
def instance(tmp_path):
    path = tmp_path / "inst"
    result = invoke(
        path,
        "init",
        "--domain",
        "smart.se",
        "--name",
        "Smart Sweden",
        "--country",
        "se",
        "--admin",
        "root",
        "--admin-email",
        "root@smart.se",
        "--admin-password",
        PASSWORD,
    )
    assert result.exit_code == 0, result.output
    return path


def test_init_creates_a_working_instance(instance):
    settings = Settings.load(instance)
    assert (settings.domain, settings.name, settings.country) == ("smart.se", "Smart Sweden", "SE")
    assert len(settings.secret_key) == 64 and not settings.dev_mode
    assert (instance / "coopfed.db").exists() and (instance / "keys").is_dir()
    assert oct((instance / "coopfed.toml").stat().st_mode)[-3:] == "600"
    listing = invoke(instance, "member", "list")
    assert listing.exit_code == 0 and "root" in listing.output and "A" in listing.output
    stats = invoke(instance, "taxonomy", "stats")
    assert stats.exit_code == 0 and "curated" in stats.output and "sv" in stats.output
    assert invoke(instance, "db", "upgrade").exit_code == 0


def test_init_refuses_to_overwrite_and_checks_its_input(instance, tmp_path):
    again = invoke(instance, "init", "--domain", "x.se", "--name", "X", "--country", "SE")
    assert again.exit_code != 0 and "exists" in again.output
    assert Settings.load(instance).domain == "smart.se"
    for args, message in [
        (["--domain", "https://smart.se/"], "not a domain"),
        (["--domain", "localhost:8000"], "--dev"),
        (["--domain", "smart.se", "--country", "XX"], "country"),
    ]:
        full = ["init", "--name", "X", "--country", "SE", *args]
        result = invoke(tmp_path / "other", *full)
        assert result.exit_code == 2 and message in result.output, result.output
    assert not (tmp_path / "other" / "coopfed.toml").exists()
    dev = invoke(
        tmp_path / "dev",
        "init",
        "--domain",
        "127.0.0.1:8001",
        "--name",
        "Dev",
        "--country",
        "SE",
        "--dev",
    )
    assert dev.exit_code == 0, dev.output
    assert Settings.load(tmp_path / "dev").base_url == "http://127.0.0.1:8001"


def test_commands_without_an_instance_explain_what_to_do(tmp_path):
    result = invoke(tmp_path / "none", "member", "list")
    assert result.exit_code == 1 and "coopfed init" in result.output


def test_member_commands(instance):
    add = invoke(
        instance,
        "member",
        "add",
        "Anna_L",
        "--email",
        "anna@smart.se",
        "--name",
        "Anna L",
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert add.exit_code == 0, add.output
    assert "anna_l@smart.se" in add.output
    dup = invoke(
        instance, "member", "add", "anna_l", "--email", "a2@smart.se", "--password", PASSWORD
    )
    assert dup.exit_code == 1 and "taken" in dup.output
    short = invoke(instance, "member", "add", "bo", "--email", "bo@smart.se", "--password", "x")
    assert short.exit_code == 1 and "password" in short.output
    passwd = invoke(instance, "member", "passwd", "anna_l", "--password", PASSWORD + "2")
    assert passwd.exit_code == 0, passwd.output
    listing = invoke(instance, "member", "list").output
    assert "anna_l" in listing and "anna@smart.se" in listing and "2 members" in listing
    gone = invoke(instance, "member", "delete", "anna_l", "--yes")
    assert gone.exit_code == 0
    assert "anna_l" not in invoke(instance, "member", "list").output
    assert invoke(instance, "member", "delete", "anna_l", "--yes").exit_code == 1


def _concept(kind, lang):
    for c in load_curated_file()["concepts"]:
        if c["kind"] == kind and lang in c["labels"]:
            return c["iri"], c["labels"][lang]["preferred"]
    raise AssertionError(kind)


def test_import_members_and_calls_with_report(instance, tmp_path):
    skill, skill_sv = _concept("skill", "sv")
    members = tmp_path / "members.jsonl"
    members.write_text(
        "\n".join(
            [
                json.dumps(
                    {
                        "username": "pia",
                        "email": "pia@example.se",
                        "country": "SE",
                        "languages": [{"code": "sv", "level": "native"}],
                        "skills": [skill_sv, "helt okänd förmåga qq"],
                        "visibility": "public",
                    }
                ),
                '{"username": "broken"',
                json.dumps({"username": "pia", "email": "pia2@example.se"}),
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    report = tmp_path / "report.json"
    result = invoke(instance, "import", "members", str(members), "--report", str(report))
    assert result.exit_code == 0, result.output
    out = result.output
    assert "1 members stored, 2 lines skipped" in out
    assert "line 2: bad JSON" in out and "line 3: duplicate username 'pia'" in out
    assert skill in out and "'helt okänd förmåga qq' [sv] ×1" in out
    assert "coopfed member invite --all-pending" in out
    data = json.loads(report.read_text(encoding="utf-8"))
    assert data["stored"] == 1 and [s["line"] for s in data["skipped"]] == [2, 3]
    assert data["linked"][0]["iri"] == skill and data["linked"][0]["text"] == skill_sv

    calls = tmp_path / "calls.jsonl"
    calls.write_text(
        json.dumps({"ref": "ext-1", "author": "pia", "title": "Tour", "country": "SE"})
        + "\n"
        + json.dumps({"ref": "ext-2", "author": "ghost", "title": "Tour", "country": "SE"})
        + "\n",
        encoding="utf-8",
    )
    result = invoke(instance, "import", "calls", str(calls))
    assert result.exit_code == 0, result.output
    assert "1 calls stored, 1 lines skipped" in result.output
    assert "line 2: unknown author 'ghost'" in result.output
    client = create_app(Settings.load(instance)).test_client()
    found = client.get("/api/v1/calls?ref=ext-1")
    assert found.status_code == 200 and found.get_json()["author"]["username"] == "pia"

    missing = invoke(instance, "import", "members", str(tmp_path / "nope.jsonl"))
    assert missing.exit_code == 1 and "cannot read" in missing.output


def _esco_only_skill():
    curated = {c["iri"] for c in load_curated_file()["concepts"]}
    with (ESCO_DIR / "skills_en.csv").open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            label = row["preferredLabel"]
            if row["conceptUri"] not in curated and len(label.split()) >= 3:
                return row["conceptUri"], label
    raise AssertionError("no ESCO-only skill")


@pytest.mark.timeout(900)  # two full ESCO imports: seconds alone, minutes on a loaded CI machine
def test_taxonomy_import_esco(instance):
    need(ESCO_DIR.is_dir(), f"ESCO test data not found at {ESCO_DIR}")
    iri, label = _esco_only_skill()
    client = create_app(Settings.load(instance)).test_client()
    before = client.get("/api/v1/taxonomy/search", query_string={"q": label, "kind": "skill"})
    assert iri not in [r["iri"] for r in before.get_json()["results"]]

    started = time.perf_counter()
    result = invoke(instance, "taxonomy", "import-esco", str(ESCO_DIR))
    seconds = time.perf_counter() - started
    assert result.exit_code == 0, result.output
    print(f"ESCO import took {seconds:.1f} s")
    assert "concepts added" in result.output and "de, en, es, fr, it, nl, sv" in result.output
    assert "skills_en.csv: done" in result.output  # progress (stderr, mixed in by CliRunner)

    client = create_app(Settings.load(instance)).test_client()
    after = client.get("/api/v1/taxonomy/search", query_string={"q": label, "kind": "skill"})
    best = after.get_json()["results"][0]
    assert best["iri"] == iri and best["matched"] == label
    concept = client.get(f"/api/v1/taxonomy/concepts/{iri}").get_json()
    assert concept["source"] == "esco"
    stats = invoke(instance, "taxonomy", "stats").output
    assert "esco" in stats and "ESCO (imported from esco)" in stats
    # Importing again adds nothing.
    again = invoke(instance, "taxonomy", "import-esco", str(ESCO_DIR))
    assert "0 concepts added" in again.output and "0 labels added" in again.output


def test_real_entry_point_runs_serves_and_stops(tmp_path):
    instance = tmp_path / "inst"
    env = {**os.environ, "COOPFED_INSTANCE_PATH": str(instance)}
    init = subprocess.run(
        [
            str(COOPFED),
            "init",
            "--domain",
            "127.0.0.1:8123",
            "--name",
            "Dev",
            "--country",
            "SE",
            "--dev",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert init.returncode == 0, init.stderr
    once = subprocess.run(
        [str(COOPFED), "worker", "--once"], env=env, capture_output=True, text=True, timeout=120
    )
    assert once.returncode == 0 and "items handled" in once.stdout, once.stderr
    proc = subprocess.Popen(
        [str(COOPFED), "run", "--port", "0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert "serving on http://127.0.0.1:" in line, line + proc.stderr.read()
        url = line.rsplit(" ", 1)[1].strip()
        with urlopen(f"{url}/api/v1/openapi.json", timeout=10) as response:
            assert json.load(response)["openapi"].startswith("3.1")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert "stopped" in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
