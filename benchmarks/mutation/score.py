"""The mutation score of ``make mutate``, per op family: killed / (all - equivalent).

mutmut 3 keeps each mutant's result in ``mutants/<file>.meta``: the test run's exit status (1
killed, 0 survived), None when not run yet, mutmut's own codes otherwise. Timeouts and crashes
count as killed (the suite noticed); a mutant no selected test reaches (code 5 or 33: mutmut saw
no test call the function) counts as a survivor. A survivor judged equivalent (see
docs/testing.md for what counts) is listed in ``benchmarks/mutation/equivalent.txt`` as
``<mutant name>: <why>``; ``mutmut show <mutant name>`` prints its diff. Run from the repository
root after ``mutmut run``.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path.cwd()  # where mutmut ran
EQUIVALENT = Path(__file__).with_name("equivalent.txt")
SURVIVED = {0, 5, 33}  # the tests passed; or mutmut found no test to run
NOT_RUN = {None, 2, 34}  # not yet, interrupted, skipped


def equivalents() -> dict[str, str]:
    out = {}
    for line in EQUIVALENT.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, why = line.partition(":")
            out[name.strip()] = why.strip()
    return out


def main() -> int:
    metas = sorted((ROOT / "mutants" / "tinygrad_cnn" / "ops").glob("*.py.meta"))
    if not metas:
        print("no mutmut results under mutants/: run `make mutate` first", file=sys.stderr)
        return 2
    equivalent = equivalents()
    rows, survivors, stale = [], [], []
    for meta in metas:
        results = json.loads(meta.read_text())["exit_code_by_key"]
        count = Counter()
        for name, code in results.items():
            survived = code in SURVIVED
            if name in equivalent and survived:
                count["equivalent"] += 1
            elif code in NOT_RUN:
                count["not run"] += 1
            elif survived:
                count["survived"] += 1
                survivors.append(name + ("" if code == 0 else "  (no test reaches it)"))
            else:
                count["killed"] += 1
                if name in equivalent:
                    stale.append(name)  # listed as equivalent, yet a test kills it
        rows.append((meta.name.removesuffix(".py.meta"), len(results), count))
    print(
        f"{'family':<12} {'mutants':>7} {'killed':>7} {'survived':>8} {'equiv.':>6} "
        f"{'not run':>7} {'score':>7}"
    )
    for family, total, c in rows:
        judged = c["killed"] + c["survived"]
        score = f"{100 * c['killed'] / judged:.1f}%" if judged else "-"
        print(
            f"{family:<12} {total:>7} {c['killed']:>7} {c['survived']:>8} "
            f"{c['equivalent']:>6} {c['not run']:>7} {score:>7}"
        )
    if survivors:
        print(f"\n{len(survivors)} survivors (mutmut show <name> for the diff):")
        print("\n".join("  " + s for s in survivors))
    if stale:
        print(f"\n{len(stale)} listed in {EQUIVALENT.name} but killed (remove them):")
        print("\n".join("  " + s for s in stale))
    return 0


if __name__ == "__main__":
    sys.exit(main())
