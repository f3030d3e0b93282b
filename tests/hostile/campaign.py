"""Long fuzzing campaign over random graphs and mutated zoo specs.

Usage::

    python -m tests.hostile.campaign --examples 20000 --minutes 30

Runs rounds of hypothesis examples until either limit is reached: random
graphs, and one round of mutated zoo specs every ``--zoo-every`` rounds.
Prints how many specs were built and checked and how many were rejected with
a located SpecError, and every failure with its shrunk example. Exits 1 on a
failure.
"""

from __future__ import annotations

import argparse
import time
import traceback
from collections import Counter

from hypothesis import given, settings

from .fuzzing import check_spec_tree, fuzz_settings, graph_specs, mutated_zoo_specs


def _round(kind: str, examples: int, counts: Counter[str]) -> None:
    if kind == "graph":

        @given(graph_specs())
        def run(case):  # type: ignore[no-untyped-def]
            spec, input_size = case
            counts[f"graph {check_spec_tree(spec, input_size).kind}"] += 1

    else:

        @given(mutated_zoo_specs())
        def run(case):  # type: ignore[no-untyped-def]
            file_name, tree, input_size = case
            counts[f"zoo {check_spec_tree(tree, input_size, file_name).kind}"] += 1

    settings(fuzz_settings(examples), database=None)(run)()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=10_000, help="total examples to run (graphs and zoo mutations)")
    parser.add_argument("--minutes", type=float, default=60.0, help="stop starting new rounds after this many minutes")
    parser.add_argument("--round", type=int, default=200, help="examples per hypothesis round")
    parser.add_argument("--zoo-every", type=int, default=10, help="one zoo mutation round per this many graph rounds")
    args = parser.parse_args()

    counts: Counter[str] = Counter()
    failures = 0
    start = time.monotonic()
    round_index = 0
    while sum(counts.values()) < args.examples and time.monotonic() - start < args.minutes * 60:
        kind = "zoo" if round_index % args.zoo_every == args.zoo_every - 1 else "graph"
        size = args.round if kind == "graph" else max(1, args.round // 10)
        try:
            _round(kind, size, counts)
        except Exception:  # noqa: BLE001 - a campaign reports every failure and goes on
            failures += 1
            print(f"FAILURE in a {kind} round:\n{traceback.format_exc()}", flush=True)
        round_index += 1
        elapsed = time.monotonic() - start
        print(f"[{elapsed / 60:6.1f} min] {sum(counts.values())} examples: {dict(sorted(counts.items()))}", flush=True)

    total = sum(counts.values())
    print(f"campaign: {total} examples in {(time.monotonic() - start) / 60:.1f} min, {failures} failing round(s)")
    print(f"outcomes: {dict(sorted(counts.items()))}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
