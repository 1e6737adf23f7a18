"""Run every benchmark in sequence, each printing its own table.

    uv run python bench/run_all.py [--quick] [--scale]

``--quick`` passes smaller sizes (minutes instead of tens of minutes); without it each bench
runs at the size its docstring names (bench_match: 100,000 profiles). bench_scale (1M profiles,
~11 GiB peak, ~15 min) runs at full size only with ``--scale``; otherwise it runs its
quick sizes. A bench that is missing is skipped; one that fails is reported and the others
still run. Exit status 1 if any failed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent

# name -> (quick arguments, full arguments)
BENCHES: dict[str, tuple[list[str], list[str]]] = {
    "bench_federation.py": (["--quick"], []),
    "bench_match.py": (["--profiles", "5000", "--calls", "100"], []),
    "bench_linking.py": ([], []),
    "bench_match_quality.py": ([], []),
    "bench_callpage.py": (["--members", "2000", "--requests", "100"], []),
    "bench_mail.py": (["--quick"], []),
    "bench_import.py": (["--members", "2000"], []),
    "bench_scale.py": (["--sizes", "20000,50000", "--calls", "50", "--nprobe", "4,16"], []),
}
SLOW = {"bench_scale.py"}  # full size only with --scale


def main() -> int:
    ap = argparse.ArgumentParser(description="Run every benchmark in sequence.")
    ap.add_argument("--quick", action="store_true", help="smaller sizes for every bench")
    ap.add_argument("--scale", action="store_true", help="run bench_scale at 100k/300k/1M")
    args = ap.parse_args()
    failed: list[str] = []
    for name, (quick, full) in BENCHES.items():
        script = BENCH / name
        if not script.exists():
            print(f"\n=== {name}: not present, skipped", flush=True)
            continue
        small = args.quick or (name in SLOW and not args.scale)
        argv = [sys.executable, str(script), *(quick if small else full)]
        print(f"\n=== {' '.join([name, *argv[2:]])}", flush=True)
        started = time.perf_counter()
        code = subprocess.call(argv, cwd=BENCH.parent)
        print(f"=== {name}: exit {code} in {time.perf_counter() - started:.0f} s", flush=True)
        if code:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
