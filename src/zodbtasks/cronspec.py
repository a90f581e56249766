"""The one spec grammar of schedules: lovely-style fields given as ints
or written as text, and the fields of cron strings, read with bounds that
keep time and memory small whatever the input.  Pure: no ZODB, no clock.
``zodbtasks.cron`` builds schedules from what this module reads.

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
"""
from __future__ import annotations

import numbers
import re
from collections.abc import Iterable

from zodbtasks.interfaces import ScheduleError

_CRON_MONTHS = ('jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep',
                'oct', 'nov', 'dec')
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
    'dayOfWeek': (0, 6, ('mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'))}
#: The lowest and highest value of each lovely-style field.
FIELD_RANGES = {name: (low, high) for name, (low, high, _) in _FIELDS.items()}
# Bounds that keep time and memory small whatever the input: values (or
# list items) per field, digits of a number (more are out of every range)
# and characters of a value shown in a message.
_MAX_FIELD_VALUES = 1000
_MAX_DIGITS = 9
_SHOWN = 80


def normalise_field(name: str, values: Iterable[int] | None,
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
            raise ScheduleError(f'{name}: {show(value)} is not an int')
        if not low <= value <= high:
            raise ScheduleError(
                f'{name}: {show(value)} is out of range {low}-{high}')
        result.add(int(value))
    return tuple(sorted(result))


def show(value: object) -> str:
    """The repr of a value for a message, cut to _SHOWN characters."""
    try:
        text = repr(value)
    except ValueError:  # an int with too many digits to write out
        return f'<{type(value).__name__} too large to show>'
    if len(text) <= _SHOWN:
        return text
    return f'{text[:_SHOWN]}... ({len(text)} characters)'


def _parse_number(text: str, low: int, high: int,
                  names: tuple[str, ...]) -> int:
    """Parse a value: digits in [low, high] or a name of the field. The
    bounds are checked on the digits, before any int is made of them."""
    if text.lower() in names:
        return names.index(text.lower()) + low
    if not _NUMBER.fullmatch(text):
        kind = 'a number or name' if names else 'a number'
        raise ScheduleError(f'{show(text)} is not {kind}')
    digits = text.lstrip('0') or '0'
    if len(digits) > _MAX_DIGITS or not low <= int(digits) <= high:
        shown = digits if len(digits) <= _SHOWN else show(text)
        raise ScheduleError(f'{shown} is out of range {low}-{high}')
    return int(digits)


def _parse_step(step_text: str, item: str, span: int) -> int:
    """Parse the step of an item; a step beyond the field's span keeps
    only the start of the range, as any bigger step does."""
    digits = step_text.lstrip('0')
    if not _NUMBER.fullmatch(step_text) or not digits:
        raise ScheduleError(
            f'step {show(step_text)} in {show(item)} is not a number >= 1')
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
                f'step in {show(item)} needs a range or *, e.g. '
                f'{first}-{high}/{step}')
        return range(first, first + 1)
    last = _parse_number(last_text, low, high, names)
    if first > last:
        raise ScheduleError(f'range {show(item)} is reversed')
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
            raise ScheduleError(f'empty list item in {show(text)}')
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
            f'{show(name)} is not a field: use one of {", ".join(_FIELDS)}')
    if not isinstance(text, str):
        raise ScheduleError(f'{name}: expected text, got {show(text)}')
    if not text.strip():
        return ()
    low, high, names = _FIELDS[name]
    try:
        return _parse_list(text.strip(), low, high, names, strip=True)
    except ScheduleError as error:
        raise ScheduleError(f'{name}: {error}') from None


def parse_cron(
        expression: str) -> tuple[list[str], tuple[tuple[int, ...], ...]]:
    """The five tokens of a cron string or macro and the values of its
    fields (minutes, hours, days, months, weekdays with Monday=0)."""
    tokens = expression.split()
    if tokens and tokens[0].startswith('@'):
        if len(tokens) > 1 or tokens[0].lower() not in _CRON_MACROS:
            raise ScheduleError(
                f'cron {show(expression)}: unknown macro '
                f'{show(expression)}, use one of {", ".join(_CRON_MACROS)}')
        tokens = _CRON_MACROS[tokens[0].lower()].split()
    if len(tokens) != 5:
        raise ScheduleError(
            f'cron {show(expression)}: expected 5 fields, got {len(tokens)}')
    fields = []
    for token, (name, low, high, names) in zip(tokens, _CRON_FIELDS):
        try:
            fields.append(_parse_list(token, low, high, names))
        except ScheduleError as error:
            raise ScheduleError(
                f'cron {show(expression)}: {name}: {error}') from None
    minutes, hours, days, months, cron_days = fields
    weekdays = tuple(sorted({(day - 1) % 7 for day in cron_days}))
    return tokens, (minutes, hours, days, months, weekdays)
