"""Run a call under wall-clock and memory measurement, for the blow-up guards."""

from __future__ import annotations

import time
import tracemalloc
from dataclasses import dataclass
from typing import Any, Callable

import cvgraph

MAX_SECONDS = 10.0
"""Generous wall-clock bound for one hostile input: a guard against hangs, not a benchmark."""

MAX_PEAK_BYTES = 64 * 2**20
"""Bound on the Python memory one hostile input may allocate (tracemalloc peak)."""


@dataclass
class Bounded:
    """The outcome of one bounded call."""

    error: cvgraph.SpecError | None
    value: Any
    seconds: float
    peak_bytes: int


def run_bounded(call: Callable[[], Any], *, trace_memory: bool = True) -> Bounded:
    """Run ``call``, catching only SpecError, and measure its time and peak traced memory.

    With ``trace_memory=False`` the peak is reported as 0 and the call runs at full speed.
    """
    if trace_memory:
        tracemalloc.start()
    start = time.perf_counter()
    error = value = None
    try:
        value = call()
    except cvgraph.SpecError as caught:
        error = caught
    finally:
        seconds = time.perf_counter() - start
        peak = 0
        if trace_memory:
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
    return Bounded(error, value, seconds, peak)
