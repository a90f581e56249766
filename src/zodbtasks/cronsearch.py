"""The search for a schedule's next firing, in UTC or local time.

Pure: no ZODB, no clock reads.  A ``Spec`` holds the allowed values of each
field; ``next_after(spec, zone, now)`` is its next firing strictly after
``now`` (epoch seconds).  The search jumps field by field, so rare specs
such as February 29th on a Monday are found quickly.

Time zones and daylight saving
------------------------------
Field and cron schedules take an optional IANA ``timezone`` name (default
UTC); their fields are then matched against local wall-clock time. Policy:

* A wall-clock time skipped by a spring-forward change fires once, at the
  first instant after the gap: a daily 02:30 job in Europe/Berlin fires on
  2024-03-31 at 03:00 CEST (01:00 UTC). Several skipped times collapse into
  that one firing.
* A wall-clock time that occurs twice (fall back) fires once, at its first
  occurrence: a daily 02:30 job in Europe/Berlin fires on 2024-10-27 at
  02:30 CEST only.
* Exception: schedules whose hour field is unrestricted (all 24 hours, e.g.
  ``*/5 * * * *`` or ``minute=(10,)``) follow real elapsed time, as Vixie
  cron and cronie do for such jobs: they fire in both occurrences of a
  repeated hour, and skipped wall-clock times are not caught up (time simply
  moves on), so an hourly job stays hourly across both changes.

So a daily job at any fixed local time runs exactly once on both change days.
"""
from __future__ import annotations

import bisect
import calendar
import dataclasses
import datetime
import math
import zoneinfo

from zodbtasks.interfaces import ScheduleError

_ONE_MINUTE = datetime.timedelta(minutes=1)
# The Gregorian calendar repeats every 400 years: a spec that can match at
# all matches within that span.
_SEARCH_YEARS = 400
_MAX_MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _next_value(values: tuple[int, ...], value: int) -> int | None:
    """Return the smallest of the sorted ``values`` >= ``value``, or None."""
    index = bisect.bisect_left(values, value)
    return values[index] if index < len(values) else None


@dataclasses.dataclass(frozen=True)
class Spec:
    """A compiled schedule: the allowed values of each wall-clock field."""

    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: tuple[int, ...]
    months: tuple[int, ...]
    weekdays: tuple[int, ...]  # Monday=0
    day_or: bool = False  # cron: a day matches if day OR weekday matches

    @property
    def hour_wild(self) -> bool:
        """Is the hour unrestricted (follow real elapsed time)?"""
        return len(self.hours) == 24

    def can_match(self) -> bool:
        """Does some date match? Every weekday occurs in every month, and
        every valid (month, day) falls on every weekday in some year."""
        return self.day_or or any(
            day <= _MAX_MONTH_DAYS[month - 1]
            for month in self.months for day in self.days)

    def next_wall(self, start: datetime.datetime) -> datetime.datetime:
        """Return the first matching wall-clock minute at or after start."""
        year, month, day = start.year, start.month, start.day
        hour, minute = start.hour, start.minute
        limit = min(year + _SEARCH_YEARS, datetime.MAXYEAR)
        while year <= limit:
            if month not in self.months:
                found = _next_value(self.months, month)
                year, month = ((year, found) if found is not None
                               else (year + 1, self.months[0]))
                day, hour, minute = 1, 0, 0
                continue
            found = self._next_day(year, month, day)
            if found is None:
                month, day, hour, minute = month + 1, 1, 0, 0
                continue
            if found != day:
                day, hour, minute = found, 0, 0
            found = _next_value(self.hours, hour)
            if found is None:
                day, hour, minute = day + 1, 0, 0
                continue
            if found != hour:
                hour, minute = found, 0
            found = _next_value(self.minutes, minute)
            if found is None:
                hour, minute = hour + 1, 0
                continue
            return datetime.datetime(year, month, day, hour, found)
        raise ScheduleError(
            f'no matching time within {_SEARCH_YEARS} years after {start}')

    def _next_day(self, year: int, month: int, day: int) -> int | None:
        """Return the first matching day >= day of the month, or None."""
        first_weekday, length = calendar.monthrange(year, month)
        for candidate in range(day, length + 1):
            in_days = candidate in self.days
            in_weekdays = (first_weekday + candidate - 1) % 7 in self.weekdays
            if ((in_days or in_weekdays) if self.day_or
                    else (in_days and in_weekdays)):
                return candidate
        return None


# Time zones and the mapping of wall-clock times to instants.

def check_zone(name: str | None) -> datetime.tzinfo:
    """Return the tzinfo for an IANA zone name; None means UTC."""
    if name is None:
        return datetime.timezone.utc
    if not isinstance(name, str):
        raise ScheduleError(f'timezone: expected a zone name, got {name!r}')
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise ScheduleError(
            f'timezone: unknown time zone {name!r}') from None


def _stamp(wall: datetime.datetime, zone: datetime.tzinfo, fold: int) -> int:
    """Epoch seconds of a wall-clock time; fold picks the PEP 495 reading."""
    return int(wall.replace(tzinfo=zone, fold=fold).timestamp())


def _gap_end(wall: datetime.datetime, zone: datetime.tzinfo,
             low: int, high: int) -> int:
    """First instant whose wall time is >= wall (skipped by a gap).

    Bisects between ``low`` (wall time before ``wall``) and ``high`` (after).
    """
    while high - low > 1:
        middle = (low + high) // 2
        local = datetime.datetime.fromtimestamp(middle, zone)
        if local.replace(tzinfo=None) >= wall:
            high = middle
        else:
            low = middle
    return high


def _instants(wall: datetime.datetime, zone: datetime.tzinfo,
              elapsed: bool) -> list[int]:
    """The instants at which a matching wall-clock time fires.

    ``elapsed`` selects the real-elapsed-time policy (hour unrestricted):
    both occurrences of a repeated time, nothing for a skipped one.
    Otherwise: the first occurrence, or the end of the gap.
    """
    first, second = _stamp(wall, zone, 0), _stamp(wall, zone, 1)
    if first == second:
        return [first]
    if first < second:  # repeated: fold=0 is the earlier occurrence
        return [first, second] if elapsed else [first]
    # skipped: fold=0 reads with the offset before the gap, so is later
    return [] if elapsed else [_gap_end(wall, zone, second, first)]


def _first_firing(spec: Spec, zone: datetime.tzinfo,
                  start: datetime.datetime, now: int) -> int:
    """First firing after now of a match at or after the wall time start."""
    wall = spec.next_wall(start)
    while True:
        later = [stamp for stamp in _instants(wall, zone, spec.hour_wild)
                 if stamp > now]
        if later:
            return min(later)
        wall = spec.next_wall(wall + _ONE_MINUTE)


def _repeat_firing(spec: Spec, zone: datetime.tzinfo,
                   wall: datetime.datetime, now: int) -> int | None:
    """Elapsed policy, now in the first pass of a repeated period: the
    earliest second occurrence of a match at or before wall, if any."""
    first, second = _stamp(wall, zone, 0), _stamp(wall, zone, 1)
    if first >= second:
        return None
    candidate = spec.next_wall(wall - datetime.timedelta(
        seconds=second - first))
    while candidate <= wall:
        occurrences = _instants(candidate, zone, True)
        if len(occurrences) == 2 and occurrences[1] > now:
            return occurrences[1]
        candidate = spec.next_wall(candidate + _ONE_MINUTE)
    return None


def next_after(spec: Spec, zone: datetime.tzinfo, now: float) -> float:
    """The first firing of spec strictly after now, in epoch seconds."""
    # Minute boundaries are whole seconds, so the first one after floor(now)
    # is the first one after now.
    now_s = math.floor(now)
    local = datetime.datetime.fromtimestamp(now_s, zone)
    wall = local.replace(tzinfo=None, second=0, fold=0)
    found = _first_firing(spec, zone, wall + _ONE_MINUTE, now_s)
    if spec.hour_wild and local.fold == 0:
        repeat = _repeat_firing(spec, zone, wall, now_s)
        if repeat is not None:
            found = min(found, repeat)
    return float(found)
