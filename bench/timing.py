"""What the in-process benches share: the median time of a call."""

from __future__ import annotations

import statistics
import time


def median_ms(fn, n: int) -> float:
    """The median of ``n`` calls of ``fn``, in ms, after a warm-up of up to 200 calls."""
    for _ in range(min(200, n)):
        fn()
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples) * 1e3
