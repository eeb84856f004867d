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


def interleaved_ms(fns: dict, n: int, rounds: int = 7) -> dict:
    """Each of ``fns``' median time in ms, measured in ``rounds`` turns of ``n // rounds`` calls
    each, one function after the other in every turn: the median of its turns. A machine whose
    speed drifts (a shared VM) then slows every function of a turn alike, and a ratio of two
    of them holds where two back-to-back medians would not."""
    turns: dict = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            turns[name].append(median_ms(fn, max(1, n // rounds)))
    return {name: statistics.median(values) for name, values in turns.items()}
