"""Pure schedule maths: when does a cron job run next?

No ZODB, no clock reads: ``now`` is a parameter in epoch seconds (UTC), and
``next_after(now)`` returns the next firing STRICTLY after ``now`` as float
epoch seconds. Invalid input raises ``ScheduleError`` (from interfaces)
naming the field and the offending value. Three kinds of schedule, built
directly or by ``make_schedule``:

``FieldSchedule`` (lovely.remotetask-style fields)
    ``minute`` 0-59, ``hour`` 0-23, ``dayOfMonth`` 1-31, ``month`` 1-12 and
    ``dayOfWeek`` 0-6 with Monday=0 (``date.weekday()``), each an iterable of
    at most 1,000 ints, normalised to a sorted tuple. Every given (non-empty)
    field must match, ``dayOfMonth`` and ``dayOfWeek`` included. Fields finer
    than the finest given field are at their minimum (``hour=(2, 13)`` means
    02:00 and 13:00; ``month=(5,)`` means May 1st 00:00), coarser ones are
    wildcards (``minute=(10,)`` means ten past every hour). No field at all
    means every minute, as in lovely.remotetask.

``CronSchedule`` (a standard five-field cron string)
    ``minute hour day-of-month month day-of-week`` with the Vixie-cron
    meaning: ``*``, lists ``1,5``, ranges ``1-5``, steps ``*/5`` and
    ``10-50/10``, month names jan-dec and day names sun-sat (any case),
    day-of-week Sunday=0 or 7, and the OR rule: when neither day field
    starts with ``*``, a day matches if either day field matches. Macros:
    @yearly, @annually, @monthly, @weekly, @daily, @midnight and @hourly.

The one grammar
    ``parse_field(name, text)`` reads ONE lovely-style field written as
    text (what the forms take) with the item grammar of a cron string
    field: ``*``, ``a``, ``a-b``, ``*/s``, ``a-b/s``, comma-separated,
    blanks around items allowed, names in ``month`` (jan-dec) and
    ``dayOfWeek`` (mon-sun, Monday=0 as in the lovely fields). A step needs
    ``*`` or a range: ``5/15`` is refused in both (with a hint to write
    ``5-59/15``), as Vixie cron does; cronie and croniter read it as
    ``5-59/15``, other crons as ``5``, so an explicit range says what is
    meant. A reversed range (``50-10``) is refused. Every number is checked
    against the field's bounds before anything is expanded, so time and
    memory stay bounded whatever the text (``0-1000000000`` fails at once).

``DelaySchedule``
    Fires once, ``delay`` seconds after it is first seen: ``now + delay``.
    The delay is a finite number of seconds from 0 to ``MAX_DELAY`` (100
    years): a fixed maximum rather than "before year 9999 from now",
    because schedules never read the clock; it keeps every delay short of
    year 9999 until the year 9899.

Seconds are always 0. Specs that never match (February 30th) are refused at
construction. The search jumps field by field, so rare specs such as
February 29th on a Monday are found quickly.

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
import numbers
import re
import zoneinfo
from collections.abc import Iterable
from collections.abc import Sized

from zodbtasks.interfaces import ScheduleError

__all__ = ['FIELD_RANGES', 'MAX_DELAY', 'CronSchedule', 'DelaySchedule',
           'FieldSchedule', 'make_schedule', 'parse_field']

#: The longest delay accepted, in seconds: 100 years of 365.25 days.
MAX_DELAY = 3_155_760_000
_YEAR = 31_557_600  # seconds in 365.25 days

_ONE_MINUTE = datetime.timedelta(minutes=1)
# The Gregorian calendar repeats every 400 years: a spec that can match at
# all matches within that span.
_SEARCH_YEARS = 400
_MAX_MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_MONTH_NAMES = ('January', 'February', 'March', 'April', 'May', 'June',
                'July', 'August', 'September', 'October', 'November',
                'December')
_WEEKDAY_NAMES = ('Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday',
                  'Saturday', 'Sunday')
_CRON_MONTHS = tuple(name[:3].lower() for name in _MONTH_NAMES)
_CRON_DAYS = ('sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat')
# (name, low, high, names) of the five cron fields, in order.
_CRON_FIELDS: tuple[tuple[str, int, int, tuple[str, ...]], ...] = (
    ('minute', 0, 59, ()), ('hour', 0, 23, ()), ('day-of-month', 1, 31, ()),
    ('month', 1, 12, _CRON_MONTHS), ('day-of-week', 0, 7, _CRON_DAYS))
_CRON_MACROS = {
    '@yearly': '0 0 1 1 *', '@annually': '0 0 1 1 *', '@monthly': '0 0 1 * *',
    '@weekly': '0 0 * * 0', '@daily': '0 0 * * *', '@midnight': '0 0 * * *',
    '@hourly': '0 * * * *'}
_NUMBER = re.compile('[0-9]+')
# (low, high, names) of the lovely-style fields; dayOfWeek has Monday=0.
_FIELDS: dict[str, tuple[int, int, tuple[str, ...]]] = {
    'minute': (0, 59, ()), 'hour': (0, 23, ()), 'dayOfMonth': (1, 31, ()),
    'month': (1, 12, _CRON_MONTHS),
    'dayOfWeek': (0, 6, tuple(name[:3].lower() for name in _WEEKDAY_NAMES))}
#: The lowest and highest value of each lovely-style field.
FIELD_RANGES = {name: (low, high) for name, (low, high, _) in _FIELDS.items()}
# Bounds that keep time and memory small whatever the input: values (or
# list items) per field, digits of a number (more are out of every range)
# and characters of a value shown in a message.
_MAX_FIELD_VALUES = 1000
_MAX_DIGITS = 9
_SHOWN = 80


def _next_value(values: tuple[int, ...], value: int) -> int | None:
    """Return the smallest of the sorted ``values`` >= ``value``, or None."""
    index = bisect.bisect_left(values, value)
    return values[index] if index < len(values) else None


@dataclasses.dataclass(frozen=True)
class _Spec:
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

def _check_zone(name: str | None) -> datetime.tzinfo:
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


def _first_firing(spec: _Spec, zone: datetime.tzinfo,
                  start: datetime.datetime, now: int) -> int:
    """First firing after now of a match at or after the wall time start."""
    wall = spec.next_wall(start)
    while True:
        later = [stamp for stamp in _instants(wall, zone, spec.hour_wild)
                 if stamp > now]
        if later:
            return min(later)
        wall = spec.next_wall(wall + _ONE_MINUTE)


def _repeat_firing(spec: _Spec, zone: datetime.tzinfo,
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


def _next_after(spec: _Spec, zone: datetime.tzinfo, now: float) -> float:
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


# Validation and description helpers.

def _normalise_field(name: str, values: Iterable[int] | None,
                     low: int, high: int) -> tuple[int, ...]:
    """Validate an iterable of ints; return it sorted, without duplicates."""
    if values is None:
        return ()
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise ScheduleError(
            f'{name}: expected an iterable of ints, got {values!r}')
    result: set[int] = set()
    for count, value in enumerate(values):
        if count == _MAX_FIELD_VALUES:
            raise ScheduleError(
                f'{name}: more than {_MAX_FIELD_VALUES} values')
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise ScheduleError(f'{name}: {_show(value)} is not an int')
        if not low <= value <= high:
            raise ScheduleError(
                f'{name}: {_show(value)} is out of range {low}-{high}')
        result.add(int(value))
    return tuple(sorted(result))


def _show(value: object) -> str:
    """The repr of a value for a message, cut to _SHOWN characters."""
    try:
        text = repr(value)
    except ValueError:  # an int with too many digits to write out
        return f'<{type(value).__name__} too large to show>'
    if len(text) <= _SHOWN:
        return text
    return f'{text[:_SHOWN]}... ({len(text)} characters)'


def _join(values: Iterable[int]) -> str:
    return ','.join(str(value) for value in values)


def _with_zone(text: str, timezone: str | None) -> str:
    return f'{text} ({timezone})' if timezone else text


class FieldSchedule:
    """lovely.remotetask-style fields, matched in UTC or ``timezone``.

    See the module docstring for the semantics.
    """

    def __init__(self, minute: Iterable[int] = (), hour: Iterable[int] = (),
                 dayOfMonth: Iterable[int] = (), month: Iterable[int] = (),
                 dayOfWeek: Iterable[int] = (),
                 timezone: str | None = None) -> None:
        self.minute = _normalise_field('minute', minute, 0, 59)
        self.hour = _normalise_field('hour', hour, 0, 23)
        self.dayOfMonth = _normalise_field('dayOfMonth', dayOfMonth, 1, 31)
        self.month = _normalise_field('month', month, 1, 12)
        self.dayOfWeek = _normalise_field('dayOfWeek', dayOfWeek, 0, 6)
        _check_zone(timezone)
        self.timezone = timezone
        self._spec()  # refuse specs that never match

    def _spec(self) -> _Spec:
        levels = [bool(self.minute), bool(self.hour),
                  bool(self.dayOfMonth or self.dayOfWeek), bool(self.month)]
        if not any(levels):  # as in lovely.remotetask: every minute
            return _Spec(tuple(range(60)), tuple(range(24)),
                         tuple(range(1, 32)), tuple(range(1, 13)),
                         tuple(range(7)))
        finest = levels.index(True)  # finer fields: minimum; coarser: any
        spec = _Spec(
            minutes=self.minute or (0,),
            hours=self.hour or ((0,) if finest > 1 else tuple(range(24))),
            days=self.dayOfMonth or (
                (1,) if finest > 2 else tuple(range(1, 32))),
            months=self.month or tuple(range(1, 13)),
            weekdays=self.dayOfWeek or tuple(range(7)))
        if not spec.can_match():
            raise ScheduleError(
                f'dayOfMonth: {_join(spec.days)} never occurs in month '
                f'{_join(spec.months)}')
        return spec

    def next_after(self, now: float) -> float:
        """Return the first matching instant strictly after now."""
        return _next_after(self._spec(), _check_zone(self.timezone), now)

    def describe(self) -> str:
        """A short human description, e.g. 'at 02:00, 13:00 every day'."""
        if not (self.minute or self.hour or self.dayOfMonth or self.month
                or self.dayOfWeek):
            return _with_zone('every minute', self.timezone)
        parts = [self._describe_time()]
        if self.dayOfMonth:
            parts.append(f'on day {_join(self.dayOfMonth)} of the month')
        if self.dayOfWeek:
            names = [_WEEKDAY_NAMES[day] for day in self.dayOfWeek]
            parts.append(
                'if it is a ' + ' or '.join(names) if self.dayOfMonth
                else 'on ' + ', '.join(names))
        if self.month:
            if not (self.minute or self.hour or self.dayOfMonth
                    or self.dayOfWeek):
                parts.append('on day 1')
            parts.append(
                'in ' + ', '.join(_MONTH_NAMES[m - 1] for m in self.month))
        elif len(parts) == 1 and self.hour:
            parts.append('every day')
        return _with_zone(' '.join(parts), self.timezone)

    def _describe_time(self) -> str:
        if self.minute and not self.hour:
            return f'at minute {_join(self.minute)} of every hour'
        minutes, hours = self.minute or (0,), self.hour or (0,)
        if len(minutes) * len(hours) > 6:
            return f'at minute {_join(minutes)} of hour {_join(hours)}'
        return 'at ' + ', '.join(
            f'{hour:02d}:{minute:02d}' for hour in hours for minute in minutes)

    def __repr__(self) -> str:
        names = ('minute', 'hour', 'dayOfMonth', 'month', 'dayOfWeek')
        args = [f'{name}={getattr(self, name)!r}'
                for name in names if getattr(self, name)]
        if self.timezone:
            args.append(f'timezone={self.timezone!r}')
        return f'FieldSchedule({", ".join(args)})'


# Cron strings.

def _parse_number(text: str, low: int, high: int,
                  names: tuple[str, ...]) -> int:
    """Parse a value: digits in [low, high] or a name of the field. The
    bounds are checked on the digits, before any int is made of them."""
    if text.lower() in names:
        return names.index(text.lower()) + low
    if not _NUMBER.fullmatch(text):
        kind = 'a number or name' if names else 'a number'
        raise ScheduleError(f'{_show(text)} is not {kind}')
    digits = text.lstrip('0') or '0'
    if len(digits) > _MAX_DIGITS or not low <= int(digits) <= high:
        shown = digits if len(digits) <= _SHOWN else _show(text)
        raise ScheduleError(f'{shown} is out of range {low}-{high}')
    return int(digits)


def _parse_step(step_text: str, item: str, span: int) -> int:
    """Parse the step of an item; a step beyond the field's span keeps
    only the start of the range, as any bigger step does."""
    digits = step_text.lstrip('0')
    if not _NUMBER.fullmatch(step_text) or not digits:
        raise ScheduleError(
            f'step {_show(step_text)} in {_show(item)} is not a number >= 1')
    return int(digits) if len(digits) <= _MAX_DIGITS else span


def _parse_item(item: str, low: int, high: int,
                names: tuple[str, ...]) -> range:
    """Parse one list item: ``*``, ``a``, ``a-b``, ``*/s`` or ``a-b/s``."""
    base, slash, step_text = item.partition('/')
    step = _parse_step(step_text, item, high - low + 1) if slash else 1
    if base == '*':
        return range(low, high + 1, step)
    first_text, dash, last_text = base.partition('-')
    first = _parse_number(first_text, low, high, names)
    if not dash:
        if slash:
            raise ScheduleError(
                f'step in {_show(item)} needs a range or *, e.g. '
                f'{first}-{high}/{step}')
        return range(first, first + 1)
    last = _parse_number(last_text, low, high, names)
    if first > last:
        raise ScheduleError(f'range {_show(item)} is reversed')
    return range(first, last + 1, step)


def _parse_list(text: str, low: int, high: int, names: tuple[str, ...],
                strip: bool = False) -> tuple[int, ...]:
    """Parse a comma-separated field into sorted values; ``strip`` allows
    blanks around the items (lovely-style fields)."""
    if text.count(',') >= _MAX_FIELD_VALUES:
        raise ScheduleError(f'more than {_MAX_FIELD_VALUES} list items')
    values: set[int] = set()
    for item in text.split(','):
        item = item.strip() if strip else item
        if not item:
            raise ScheduleError(f'empty list item in {_show(text)}')
        values.update(_parse_item(item, low, high, names))
    return tuple(sorted(values))


def parse_field(name: str, text: str) -> tuple[int, ...]:
    """Parse one lovely-style field written as text; blank text gives ().

    ``parse_field('minute', '0-20/10, 45')`` is ``(0, 10, 20, 45)``. The
    items are those of a cron string field (see the module docstring),
    with the field's own bounds and Monday=0 for ``dayOfWeek``. Raises
    ScheduleError starting with the field's name.
    """
    if name not in _FIELDS:
        raise ScheduleError(
            f'{_show(name)} is not a field: use one of {", ".join(_FIELDS)}')
    if not isinstance(text, str):
        raise ScheduleError(f'{name}: expected text, got {_show(text)}')
    if not text.strip():
        return ()
    low, high, names = _FIELDS[name]
    try:
        return _parse_list(text.strip(), low, high, names, strip=True)
    except ScheduleError as error:
        raise ScheduleError(f'{name}: {error}') from None


def _parse_cron(expression: str) -> _Spec:
    """Parse a cron string or macro into a spec; refuse what never matches."""
    tokens = expression.split()
    if tokens and tokens[0].startswith('@'):
        if len(tokens) > 1 or tokens[0].lower() not in _CRON_MACROS:
            raise ScheduleError(
                f'cron {_show(expression)}: unknown macro '
                f'{_show(expression)}, use one of {", ".join(_CRON_MACROS)}')
        tokens = _CRON_MACROS[tokens[0].lower()].split()
    if len(tokens) != 5:
        raise ScheduleError(
            f'cron {_show(expression)}: expected 5 fields, got {len(tokens)}')
    fields = []
    for token, (name, low, high, names) in zip(tokens, _CRON_FIELDS):
        try:
            fields.append(_parse_list(token, low, high, names))
        except ScheduleError as error:
            raise ScheduleError(
                f'cron {_show(expression)}: {name}: {error}') from None
    minutes, hours, days, months, cron_days = fields
    spec = _Spec(minutes, hours, days, months,
                 weekdays=tuple(sorted({(day - 1) % 7 for day in cron_days})),
                 day_or=not (tokens[2].startswith('*')
                             or tokens[4].startswith('*')))
    if not spec.can_match():
        raise ScheduleError(
            f'cron {_show(expression)}: day-of-month {tokens[2]} never '
            f'occurs in month {tokens[3]}')
    return spec


class CronSchedule:
    """A standard five-field cron string, matched in UTC or ``timezone``.

    See the module docstring for the semantics. ``expression`` keeps the
    string with its whitespace normalised to single spaces.
    """

    def __init__(self, expression: str, timezone: str | None = None) -> None:
        if not isinstance(expression, str):
            raise ScheduleError(
                f'cron: expected a string, got {_show(expression)}')
        self.expression = ' '.join(expression.split())
        _check_zone(timezone)
        self.timezone = timezone
        _parse_cron(self.expression)

    def next_after(self, now: float) -> float:
        """Return the first matching instant strictly after now."""
        return _next_after(_parse_cron(self.expression),
                           _check_zone(self.timezone), now)

    def describe(self) -> str:
        """A short human description, e.g. 'cron */5 * * * * (UTC)'."""
        return _with_zone(f'cron {self.expression}', self.timezone)

    def __repr__(self) -> str:
        zone = f', timezone={self.timezone!r}' if self.timezone else ''
        return f'CronSchedule({self.expression!r}{zone})'


class DelaySchedule:
    """Fire once, ``delay`` seconds after the job is first seen.

    ``maximum`` (default MAX_DELAY) bounds the delay; None accepts any
    finite one (for reading delays stored before there was a maximum).
    """

    def __init__(self, delay: float,
                 maximum: float | None = MAX_DELAY) -> None:
        try:
            seconds = (float(delay) if isinstance(delay, numbers.Real)
                       and not isinstance(delay, bool) else math.nan)
        except OverflowError:  # an int or fraction beyond any float
            seconds = math.inf
        if math.isnan(seconds) or seconds < 0 or (
                maximum is None and math.isinf(seconds)):
            raise ScheduleError(f'delay: {_show(delay)} is not a number >= 0')
        if maximum is not None and seconds > maximum:
            raise ScheduleError(
                f'delay: {_show(delay)} is more than the maximum, '
                f'{_show(maximum)} s ({maximum / _YEAR:g} years)')
        self.delay: float = seconds

    def next_after(self, now: float) -> float:
        """Return now + delay."""
        return now + self.delay

    def describe(self) -> str:
        """A short human description: 'once, 10 s after it is first seen'."""
        seconds = (str(int(self.delay)) if self.delay.is_integer()
                   else repr(self.delay))
        return f'once, {seconds} s after it is first seen'

    def __repr__(self) -> str:
        return f'DelaySchedule({self.delay!r})'


def make_schedule(
        minute: Iterable[int] = (), hour: Iterable[int] = (),
        dayOfMonth: Iterable[int] = (), month: Iterable[int] = (),
        dayOfWeek: Iterable[int] = (), delay: float | None = None,
        cron: str | None = None, timezone: str | None = None,
        max_delay: float | None = MAX_DELAY,
) -> FieldSchedule | CronSchedule | DelaySchedule:
    """Build the schedule the arguments describe.

    ``delay`` gives a DelaySchedule (at most ``max_delay``), ``cron`` a
    CronSchedule, fields a FieldSchedule, nothing a FieldSchedule that
    fires every minute; combining kinds or a time zone with a delay raises
    ScheduleError.
    """
    fields = dict(minute=minute, hour=hour, dayOfMonth=dayOfMonth,
                  month=month, dayOfWeek=dayOfWeek)
    given = [name for name, value in fields.items()
             if value is not None and not _is_empty(value)]
    if delay is not None:
        others = given + ['cron'] * (cron is not None)
        others += ['timezone'] * (timezone is not None)
        if others:
            raise ScheduleError(
                f'delay: cannot be combined with {", ".join(others)}')
        return DelaySchedule(delay, max_delay)
    if cron is not None:
        if given:
            raise ScheduleError(
                f'cron: cannot be combined with {", ".join(given)}')
        return CronSchedule(cron, timezone)
    return FieldSchedule(**fields, timezone=timezone)


def _is_empty(value: object) -> bool:
    """Is value a sized collection of length 0 (a field not given)?"""
    try:
        return isinstance(value, Sized) and len(value) == 0
    except OverflowError:  # e.g. range(10**20): not empty
        return False
