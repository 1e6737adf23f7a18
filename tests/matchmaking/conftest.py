import sys
from pathlib import Path

# Helpers live next to the tests; the quality and IVF tests reuse the benchmark's seeded generator.
HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parents[1] / "bench")]

from mm_helpers import graph  # noqa: E402,F401  (fixture)
