"""`python -m bench` (or `make bench`): every benchmark of DESIGN §10, in the services mode, each
figure beside a baseline measured in the same run, printed as one table.

Options: `--only W1,W3` (names below, case-insensitive), `--quick` (fewer repetitions, smaller
N; the table says so), `--approvals N` (how many runs to park at an approval; default 10 000).

Exit status: 0 when every workload produced its figures, even if some MISS their budget (a miss is
information for whoever reads the table); 1 when a workload raised; 2 for a bad option.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable
from functools import partial
from typing import Any

from bench.harness import Failure, Figure, cpu_share, print_table

#: Name → module with `figures(bench)`, in the order they run. W7 runs last: it restarts the
#: web and worker processes to time a cold start.
WORKLOADS = {
    "W1": "bench.w1_sequential",
    "W4": "bench.w4_parallel",
    "W3": "bench.w3_control_flow",
    "start": "bench.run_start",
    "W5": "bench.w5_throughput",
    "W6": "bench.w6_live",
    "approvals": "bench.parked_approvals",
    "editor": "bench.editor_open",
    "W7": "bench.w7_footprint",
}
PURE = "validation"
DEFAULT_APPROVALS = 10_000
QUICK_APPROVALS = 1_000


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only",
        default="",
        help=f"comma-separated workloads to run: {', '.join([PURE, *WORKLOADS])} (default: all)",
    )
    parser.add_argument("--quick", action="store_true", help="fewer repetitions and smaller N (labelled)")
    parser.add_argument(
        "--approvals",
        type=int,
        default=None,
        help=f"runs parked at an approval (default {DEFAULT_APPROVALS:,}; {QUICK_APPROVALS:,} with --quick)",
    )
    arguments = parser.parse_args(argv)
    known = {name.lower(): name for name in [PURE, *WORKLOADS]}
    wanted = [item.strip().lower() for item in arguments.only.split(",") if item.strip()]
    unknown = [item for item in wanted if item not in known]
    if unknown:
        parser.error(f"unknown workload(s) {', '.join(unknown)}; choose from {', '.join(known.values())}")
    arguments.selected = [known[item] for item in wanted] if wanted else [PURE, *WORKLOADS]
    if arguments.approvals is None:
        arguments.approvals = QUICK_APPROVALS if arguments.quick else DEFAULT_APPROVALS
    if arguments.approvals < 1:
        parser.error("--approvals must be at least 1")
    return arguments


def _stop_on_sigterm(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # unwinds through every `finally`: processes stopped, database dropped


def run_workload(
    name: str, produce: Callable[[], list[Figure]], figures: list[Figure], failures: list[Failure]
) -> bool:
    print(f"bench: {name} …", file=sys.stderr, flush=True)
    started = time.monotonic()
    try:
        produced = produce()
    except Exception as error:  # one broken workload must not hide the others' figures
        traceback.print_exc()
        failures.append(Failure(name, f"{type(error).__name__}: {error}"))
        return False
    figures.extend(produced)
    print(f"bench: {name} done in {time.monotonic() - started:.1f} s", file=sys.stderr, flush=True)
    return True


def main(argv: list[str]) -> int:
    arguments = parse_arguments(argv)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started with SIGINT ignored
    started = time.monotonic()
    figures: list[Figure] = []
    failures: list[Failure] = []
    load_before, share_before = os.getloadavg()[0], cpu_share()
    header = [
        f"Flowdeck benchmarks ({'QUICK: fewer repetitions, smaller N' if arguments.quick else 'full run'}); "
        "every figure beside a baseline measured in this run (DESIGN §10)."
    ]
    if PURE in arguments.selected:
        from bench import validation

        run_workload(PURE, validation.figures, figures, failures)
    services_workloads = [name for name in WORKLOADS if name in arguments.selected]
    if services_workloads:
        from bench.common import Bench
        from bench.stack import WORKER_CONCURRENCY, WORKER_PROCESSES, running_stack

        with running_stack() as stack:
            bench = Bench.prepare(stack, quick=arguments.quick, approvals_n=arguments.approvals)
            header.append(
                f"Services mode: Postgres + Redis, 1 web process (daphne), {WORKER_PROCESSES} celery "
                f"workers x prefork {WORKER_CONCURRENCY}, all with config.settings.bench; "
                "load generated from one more process."
            )
            try:
                for name in services_workloads:
                    module = importlib.import_module(WORKLOADS[name])
                    succeeded = run_workload(name, partial(module.figures, bench), figures, failures)
                    cancelled = bench.quiesce(timeout_s=120 if succeeded else 30)
                    if cancelled and succeeded:
                        unfinished = f"left {cancelled} runs unfinished 120 s after it ended"
                        failures.append(Failure(name, unfinished))
                    if cancelled or not succeeded:
                        stack.keep_logs = True
            finally:
                bench.close()
    load_after, share_after = os.getloadavg()[0], cpu_share()
    header.append(
        f"Machine: {os.cpu_count()} cores shared with other work; 1-min load average {load_before:.1f} "
        f"at the start, {load_after:.1f} at the end; a busy loop got {share_before:.0%} / "
        f"{share_after:.0%} of a core."
    )
    header.append(f"Total time {time.monotonic() - started:.0f} s.")
    print()
    print_table(figures, failures, header)
    return 1 if failures else 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        print("bench: interrupted; processes stopped, database dropped", file=sys.stderr)
        sys.exit(130)
