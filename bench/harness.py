"""Timing helpers shared by the benchmarks: warm-up, repetitions, medians, percentiles, one table.

Every figure is printed beside a baseline measured in the same run (DESIGN §10): absolute times on
a shared machine drift, ratios to a floor measured minutes apart drift much less.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

REPETITIONS = 7


def median_seconds(action: Callable[[], object], repetitions: int = REPETITIONS) -> float:
    """Median wall time of `action` after one warm-up call."""
    action()
    samples = []
    for _ in range(repetitions):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def paired_samples(
    measured: Callable[[], float],
    baseline: Callable[[], float],
    repetitions: int,
    warmups: int = 1,
) -> tuple[list[float], list[float]]:
    """Alternate the measured action and its baseline (after warm-ups of each), so a slow patch of
    the shared machine hits both sides alike. Each callable returns its own sample."""
    for _ in range(warmups):
        measured()
        baseline()
    measured_samples: list[float] = []
    baseline_samples: list[float] = []
    for _ in range(repetitions):
        measured_samples.append(measured())
        baseline_samples.append(baseline())
    return measured_samples, baseline_samples


def timed(action: Callable[[], object]) -> Callable[[], float]:
    """Wrap `action` so that calling it returns its wall time in seconds."""

    def sample() -> float:
        started = time.perf_counter()
        action()
        return time.perf_counter() - started

    return sample


def percentile(samples: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile: the smallest sample with at least `fraction` of them at or below."""
    ordered = sorted(samples)
    if not ordered:
        raise ValueError("no samples")
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def cpu_share(duration_s: float = 0.5) -> float:
    """The fraction of one core a busy loop gets right now (1.0 on an idle machine): how much the
    other processes on this shared machine were competing while the figures were taken."""
    wall_started, cpu_started = time.perf_counter(), time.process_time()
    while time.perf_counter() - wall_started < duration_s:
        sum(range(1000))
    return (time.process_time() - cpu_started) / (time.perf_counter() - wall_started)


@dataclass(frozen=True)
class Figure:
    """One line of the table. `value` and `baseline_value` are in `unit` (ms, runs/s, MiB, …)."""

    workload: str
    value: float
    unit: str
    baseline_name: str
    baseline_value: float | None
    budget: str
    within_budget: bool
    notes: tuple[str, ...] = field(default=())
    #: False where a ratio would mean nothing (a count of lost events beside a count recovered).
    show_ratio: bool = True

    @property
    def ratio(self) -> float | None:
        if not self.show_ratio or self.baseline_value is None or self.baseline_value == 0:
            return None
        return self.value / self.baseline_value


@dataclass(frozen=True)
class Failure:
    """A workload that raised instead of producing its figures."""

    workload: str
    error: str


def _number(value: float, unit: str) -> str:
    digits = 2 if abs(value) < 100 else 1 if abs(value) < 1000 else 0
    if unit in ("", "events", "slots"):
        digits = 0
    return f"{value:,.{digits}f} {unit}".strip()


def print_table(
    figures: Sequence[Figure], failures: Sequence[Failure] = (), header: Sequence[str] = ()
) -> None:
    notes: list[str] = []
    rows: list[tuple[str, ...]] = []
    for figure in figures:
        marks = []
        for note in figure.notes:
            if note not in notes:
                notes.append(note)
            marks.append(str(notes.index(note) + 1))
        label = figure.workload + (f" [{','.join(marks)}]" if marks else "")
        baseline = (
            f"{figure.baseline_name} {_number(figure.baseline_value, figure.unit)}"
            if figure.baseline_value is not None
            else figure.baseline_name
        )
        ratio = figure.ratio
        rows.append(
            (
                label,
                _number(figure.value, figure.unit),
                baseline,
                f"{ratio:.2f}x" if ratio is not None else "-",
                figure.budget,
                "PASS" if figure.within_budget else "MISS",
            )
        )
    for failure in failures:
        rows.append((failure.workload, "ERROR", failure.error[:60], "-", "-", "ERROR"))
    titles = ("workload", "measured", "baseline (same run)", "ratio", "budget", "result")
    widths = [
        max(len(titles[index]), *(len(row[index]) for row in rows)) if rows else len(titles[index])
        for index in range(6)
    ]
    for text in header:
        print(text)
    if header:
        print()

    def line(cells: Sequence[str]) -> str:
        return (
            f"{cells[0]:<{widths[0]}}  {cells[1]:>{widths[1]}}  {cells[2]:<{widths[2]}}  "
            f"{cells[3]:>{widths[3]}}  {cells[4]:<{widths[4]}}  {cells[5]}"
        )

    print(line(titles))
    print("-" * len(line(titles)))
    for row in rows:
        print(line(row))
    if notes:
        print()
        for index, note in enumerate(notes, start=1):
            print(f"[{index}] {note}")
