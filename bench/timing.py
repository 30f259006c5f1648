"""Timing helpers shared by the benchmark sections.

Micro-benchmarks are timeit-style: each callable runs in batches of the same duration (a few
milliseconds, so a fast and a slow callable are equally likely to fall in a quiet moment), the batches of
all callables being compared are interleaved (so a noisy neighbour slows them alike), and the best batch is
kept, since noise only ever adds time. Slow operations (a refresh, a login) are timed one call at a time and summarised by
their median, interleaved with their reference in the same way."""

import statistics
import time
from collections.abc import Callable


def _batch_size(function: Callable[[], object], batch_seconds: float) -> int:
    """How many calls of `function` take about `batch_seconds` (doubling until a quarter of it is reached)."""
    number = 1
    while True:
        start = time.perf_counter()
        for _ in range(number):
            function()
        elapsed = time.perf_counter() - start
        if elapsed >= batch_seconds / 4:
            return max(1, round(number * batch_seconds / elapsed))
        number *= 2


def best_per_call(
    functions: dict[str, Callable[[], object]], *, batch_seconds: float = 0.005, repeat: int = 25
) -> dict[str, float]:
    """Microseconds per call of each function: the fastest of `repeat` interleaved batches of about
    `batch_seconds` each."""
    numbers = {name: _batch_size(function, batch_seconds) for name, function in functions.items()}
    best = dict.fromkeys(functions, float("inf"))
    for _ in range(repeat):
        for name, function in functions.items():
            number = numbers[name]
            start = time.perf_counter()
            for _ in range(number):
                function()
            best[name] = min(best[name], (time.perf_counter() - start) / number * 1e6)
    return best


def median_per_call(
    functions: dict[str, Callable[[], object]], *, rounds: int, clock: Callable[[], float] = time.perf_counter
) -> dict[str, float]:
    """Microseconds per call of each function: the median of `rounds` single calls, interleaved. `clock` is
    wall time by default; time.process_time gives this process's CPU time instead."""
    samples: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(rounds):
        for name, function in functions.items():
            start = clock()
            function()
            samples[name].append((clock() - start) * 1e6)
    return {name: statistics.median(values) for name, values in samples.items()}
