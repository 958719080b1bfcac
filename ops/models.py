"""What the sweep found, kept so the operations console can show it over time.

One row per sweep that found something (an idle sweep writes nothing: a row every second would
swamp the table); the time of the last sweep, idle or not, is kept in the cache.
"""

from __future__ import annotations

from django.db import models


class SweepRecord(models.Model):
    at = models.DateTimeField(db_index=True)
    #: The sweep's counts by step: expired_leases, due_timers, resent_attempts, stalled_runs, …
    found = models.JSONField(default=dict)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        found = ", ".join(f"{key} {value}" for key, value in self.found.items() if value)
        return f"sweep at {self.at:%Y-%m-%d %H:%M:%S}: {found or 'nothing'}"
