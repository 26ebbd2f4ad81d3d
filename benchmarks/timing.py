"""Timing shared by the benchmark scripts (run as `python benchmarks/<script>.py`)."""

import statistics
import time


def timed(function, runs) -> tuple[float, float]:
    """Best and median wall time of ``runs`` calls, in milliseconds."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        times.append((time.perf_counter() - started) * 1000)
    return min(times), statistics.median(times)
