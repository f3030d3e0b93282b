"""Timing helpers for side-by-side benchmarks: interleaved runs and medians."""

from __future__ import annotations

import statistics
import time
from typing import Callable


def interleaved_medians(
    candidates: dict[str, Callable[[], object]], repeats: int, warmup: int = 1
) -> dict[str, float]:
    """Time each candidate ``repeats`` times, alternating between them; return median seconds.

    Alternating spreads noise from other processes evenly over the candidates,
    so their ratio is fairer than that of two separate loops.
    """
    for _ in range(warmup):
        for function in candidates.values():
            function()
    samples: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(repeats):
        for name, function in candidates.items():
            start = time.perf_counter()
            function()
            samples[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in samples.items()}


def report(title: str, medians: dict[str, float], reference: str) -> None:
    """Print medians in milliseconds and each candidate's ratio to ``reference``."""
    print(f"\n{title}")
    base = medians[reference]
    for name, seconds in medians.items():
        print(f"  {name:<32} {seconds * 1000:10.2f} ms   ratio {seconds / base:5.3f}")
