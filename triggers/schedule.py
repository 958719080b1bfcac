"""Cron slots in a time zone, as UTC instants: no Django, no clock (callers pass the times).

Cron expressions describe wall-clock times, so slots are found on the wall clock of the trigger's
zone and then turned into instants:

- a wall time that does not exist (the hour skipped when clocks go forward) is read with the offset
  from before the change, as PEP 495 does: a daily ``30 2 * * *`` in Europe/Berlin fires at 03:30
  on the spring-forward night instead of not at all;
- a wall time that happens twice (the hour repeated when clocks go back) fires once, at its first
  occurrence — unless the hour field is ``*``: then the expression means "every hour", and both
  real hours get their slots;
- slots that land on the same instant are one slot.

So DST neither skips a slot nor doubles one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from croniter.croniter import CroniterError

#: DST changes move the wall clock by at most this much (two hours in the most extreme zones).
MARGIN = timedelta(hours=3)
ALIASES = frozenset({"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"})
#: A slot search gives up after this many wall-clock matches (an expression such as
#: ``0 0 30 2 *`` never matches; croniter gives up on its own too).
MAX_SCAN = 20_000


class InvalidSchedule(ValueError):
    """The cron expression or the time zone cannot be used; the message says why."""


@dataclass(frozen=True)
class Cron:
    expression: str
    zone: ZoneInfo
    #: True when the hour field is "every hour": a repeated wall hour then fires twice.
    every_hour: bool

    @classmethod
    def parse(cls, expression: str, zone_name: str) -> Cron:
        return cls.of(check_expression(expression), check_zone(zone_name))

    @classmethod
    def of(cls, expression: str, zone: ZoneInfo) -> Cron:
        """A checked expression in a zone (see :func:`check_expression`)."""
        hours = croniter(expression, datetime(2000, 1, 1)).expanded[1]
        return cls(expression=expression, zone=zone, every_hour=hours == ["*"] or len(hours) == 24)

    # --- instants of one wall-clock time -------------------------------------------------

    def instants(self, wall: datetime) -> list[datetime]:
        first = wall.replace(tzinfo=self.zone, fold=0).astimezone(UTC)
        second = wall.replace(tzinfo=self.zone, fold=1).astimezone(UTC)
        if first == second:
            return [first]
        exists = first.astimezone(self.zone).replace(tzinfo=None) == wall
        if exists and self.every_hour:
            return [first, second]
        return [first]

    def _wall(self, instant: datetime) -> datetime:
        return instant.astimezone(self.zone).replace(tzinfo=None)

    def _walk(self, start: datetime, backwards: bool) -> Iterator[datetime]:
        try:
            iterator = croniter(self.expression, start)
            for _ in range(MAX_SCAN):
                yield iterator.get_prev(datetime) if backwards else iterator.get_next(datetime)
        except CroniterError:
            return

    # --- slots ---------------------------------------------------------------------------

    def slots_between(self, after: datetime, until: datetime, limit: int) -> tuple[list[datetime], bool]:
        """The latest ``limit`` slots in (after, until], oldest first, and whether earlier ones
        in the range were left out."""
        found: set[datetime] = set()
        floor = self._wall(after) - MARGIN
        stop_below: datetime | None = None
        for wall in self._walk(self._wall(until) + MARGIN, backwards=True):
            if wall < floor or (stop_below is not None and wall < stop_below):
                break
            found.update(instant for instant in self.instants(wall) if after < instant <= until)
            if stop_below is None and len(found) > limit:
                # Instants are out of wall-clock order only within MARGIN: beyond it, nothing later.
                stop_below = wall - MARGIN
        ordered = sorted(found)
        return ordered[-limit:] if limit else [], len(ordered) > limit

    def next_after(self, after: datetime) -> datetime | None:
        """The first slot strictly after ``after``, or None if the expression never matches again."""
        best: datetime | None = None
        for wall in self._walk(self._wall(after) - MARGIN, backwards=False):
            if best is not None and wall > self._wall(best) + MARGIN:
                break
            for instant in self.instants(wall):
                if instant > after and (best is None or instant < best):
                    best = instant
        return best


def check_expression(expression: object) -> str:
    if not isinstance(expression, str) or not expression.strip():
        raise InvalidSchedule("cron must be a non-empty string such as '0 9 * * 1-5'.")
    normalized = " ".join(expression.split())
    if len(normalized) > 200:
        raise InvalidSchedule("cron is longer than 200 characters.")
    if normalized.startswith("@"):
        if normalized not in ALIASES:
            raise InvalidSchedule(f"Unknown cron alias; use one of {', '.join(sorted(ALIASES))}.")
    elif len(normalized.split(" ")) != 5:
        raise InvalidSchedule("cron needs exactly 5 fields: minute hour day-of-month month day-of-week.")
    try:
        valid = croniter.is_valid(normalized)
    except Exception:  # croniter raises assorted errors on hostile input; all mean "invalid"
        valid = False
    if not valid:
        raise InvalidSchedule(f"{normalized!r} is not a valid cron expression.")
    return normalized


def check_zone(name: object) -> ZoneInfo:
    if not isinstance(name, str) or not name or len(name) > 64:
        raise InvalidSchedule("timezone must be an IANA time zone name such as 'Europe/Berlin'.")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidSchedule(
            f"Unknown time zone {name!r}; use an IANA name such as 'Europe/Berlin'."
        ) from None
