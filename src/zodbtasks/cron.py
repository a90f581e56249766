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
    text (what the forms take); see ``zodbtasks.cronspec``.

``DelaySchedule``
    Fires once, ``delay`` seconds after it is first seen: ``now + delay``.
    The delay is a finite number of seconds from 0 to ``MAX_DELAY`` (100
    years): a fixed maximum rather than "before year 9999 from now",
    because schedules never read the clock; it keeps every delay short of
    year 9999 until the year 9899.

Seconds are always 0. Specs that never match (February 30th) are refused at
construction. The search jumps field by field, so rare specs such as
February 29th on a Monday are found quickly.

Time zones and daylight saving: see ``zodbtasks.cronsearch``, which finds
the next firing in local time.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from collections.abc import Sized

from zodbtasks import cronspec
from zodbtasks.cronsearch import Spec as _Spec
from zodbtasks.cronsearch import check_zone as _check_zone
from zodbtasks.cronsearch import next_after as _next_after
from zodbtasks.cronspec import FIELD_RANGES  # noqa: F401 (public here)
from zodbtasks.cronspec import normalise_field
from zodbtasks.cronspec import parse_field  # noqa: F401 (public here)
from zodbtasks.cronspec import show as _show
from zodbtasks.interfaces import ScheduleError

__all__ = ['FIELD_RANGES', 'MAX_DELAY', 'CronSchedule', 'DelaySchedule',
           'FieldSchedule', 'make_schedule', 'parse_field']

#: The longest delay accepted, in seconds: 100 years of 365.25 days.
MAX_DELAY = 3_155_760_000
_YEAR = 31_557_600  # seconds in 365.25 days

_MONTH_NAMES = ('January', 'February', 'March', 'April', 'May', 'June',
                'July', 'August', 'September', 'October', 'November',
                'December')
_WEEKDAY_NAMES = ('Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday',
                  'Saturday', 'Sunday')


# Validation and description helpers.

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
        self.minute = normalise_field('minute', minute, 0, 59)
        self.hour = normalise_field('hour', hour, 0, 23)
        self.dayOfMonth = normalise_field('dayOfMonth', dayOfMonth, 1, 31)
        self.month = normalise_field('month', month, 1, 12)
        self.dayOfWeek = normalise_field('dayOfWeek', dayOfWeek, 0, 6)
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


def _parse_cron(expression: str) -> _Spec:
    """Parse a cron string or macro into a spec; refuse what never matches."""
    tokens, (minutes, hours, days, months, weekdays) = \
        cronspec.parse_cron(expression)
    spec = _Spec(minutes, hours, days, months, weekdays=weekdays,
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
