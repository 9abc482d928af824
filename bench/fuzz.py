"""Heavier seeds of the hard-geometry fuzz (tests/test_exactness.py runs 6 seeds per family).

Every family of ``tests/hardgeom.py`` (offsets up to 1e8 with spreads down to 1e-4, single points,
points 1e-12..1e-2 off faces of cubes, simplices and cross-polytopes, low rank, duplicates, integer
data) is drawn for ``--seeds`` seeds; each case runs ``distance`` and ``contains`` and is judged
against its exact distances (construction in rational arithmetic, or brute force). Prints the
closing figures: cases, queries, wrong verdicts, distance errors, failed certificates, unconverged
share; one JSON line per family goes to bench/results/fuzz.jsonl.

    python bench/fuzz.py --seeds 200
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from hardgeom import FAMILIES, judge, make_case  # noqa: E402

from hullscope import Hull  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=200, help="seeds per family (default 200)")
    ap.add_argument("--first-seed", type=int, default=1000, help="first seed (the test suite uses 0..5)")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    tot = dict(cases=0, queries=0, wrong=0, bad_distance=0, failed_certificates=0, unconverged=0)
    t0 = time.perf_counter()
    with open(out / "fuzz.jsonl", "a") as fh:
        for fam in FAMILIES:
            row = dict(family=fam, cases=0, queries=0, wrong=0, bad_distance=0, failed_certificates=0,
                       unconverged=0, examples=[])
            for seed in range(args.first_seed, args.first_seed + args.seeds):
                X, Q, D, info = make_case(fam, seed)
                h = Hull(X)
                for method in ("distance", "contains"):
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        r = getattr(h, method)(Q, threads=args.threads)
                    w, b, u = judge(r, D)
                    if method == "contains":
                        b = []
                    ok = bool(r.verify())
                    row["queries"] += len(Q)
                    row["wrong"] += len(w)
                    row["bad_distance"] += len(b)
                    row["unconverged"] += len(u)
                    row["failed_certificates"] += 0 if ok else 1
                    if (w or b or not ok) and len(row["examples"]) < 5:
                        row["examples"].append(dict(seed=seed, method=method, wrong=w, bad=b))
                row["cases"] += 1
            for k in tot:
                tot[k] += row[k]
            fh.write(json.dumps(row) + "\n")
            print(f"{fam:11s} cases {row['cases']:5d}  queries {row['queries']:6d}  wrong {row['wrong']:3d}  "
                  f"bad distances {row['bad_distance']:3d}  failed certificates {row['failed_certificates']:3d}  "
                  f"unconverged {row['unconverged']:4d} ({100 * row['unconverged'] / max(row['queries'], 1):.2f}%)",
                  flush=True)
    print(f"TOTAL cases {tot['cases']}, queries {tot['queries']}: wrong verdicts {tot['wrong']}, bad distances "
          f"{tot['bad_distance']}, failed certificates {tot['failed_certificates']}, unconverged "
          f"{tot['unconverged']} ({100 * tot['unconverged'] / max(tot['queries'], 1):.2f}%), "
          f"{time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
