"""`manage.py prune_runs`: delete finished runs older than the retention period (RUN_RETENTION_DAYS).

A run is pruned with everything that hangs off it (node runs, attempts, events, timers, approvals,
agent tasks). Only finished runs are ever touched — pending, running, waiting and paused runs stay
whatever their age — and deletion goes in batches, each its own short transaction, so a large
backlog never holds a long lock.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ops import retention


class Command(BaseCommand):
    help = "Delete finished runs (and their node runs, attempts, events, timers) older than N days."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days",
            type=int,
            default=None,
            help=f"Keep this many days (default RUN_RETENTION_DAYS, now {settings.RUN_RETENTION_DAYS}).",
        )
        parser.add_argument("--dry-run", action="store_true", help="Count what would go; delete nothing.")
        parser.add_argument("--batch-size", type=int, default=retention.BATCH_SIZE)

    def handle(self, *args: Any, **options: Any) -> None:
        days = settings.RUN_RETENTION_DAYS if options["days"] is None else options["days"]
        if days < 0:
            raise CommandError("--days must be 0 or more.")
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1.")
        cutoff = retention.cutoff(days)
        if options["dry_run"]:
            count = retention.prunable_runs(cutoff).count()
            self.stdout.write(
                f"{count} finished run(s) finished before {cutoff:%Y-%m-%d %H:%M} would be deleted."
            )
            return
        result = retention.prune(cutoff, batch_size=options["batch_size"])
        self.stdout.write(
            f"Deleted {result.runs} finished run(s) finished before {cutoff:%Y-%m-%d %H:%M} "
            f"({result.rows} rows in all) and {result.sweep_records} old sweep record(s)."
        )
