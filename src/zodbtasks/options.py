"""The options of a new job (``add``'s keywords), checked and turned into
what the job stores.  Pure: no ZODB, no clock (``now`` is passed in).

Each refusal names the keyword and the value and is raised before any job
exists: ``ValueError`` for ``priority``, ``ScheduleError`` (a ValueError)
for times.
"""
import datetime
import math
import numbers

from zodbtasks.interfaces import ScheduleError

#: 9999-12-31 23:59:59 UTC: the last second that can be shown.
LAST_TIME = 253402300799.0


def check_priority(priority):
    """``priority`` as an int (lower runs earlier; negatives allowed)."""
    if isinstance(priority, bool) or not isinstance(priority,
                                                    numbers.Integral):
        raise ValueError('priority: expected a whole number (lower runs '
                         'earlier), not %r' % (priority,))
    return int(priority)


def check_aging_step(step):
    """``agingStep``: None (strict priorities) or seconds >= 0."""
    if step is None:
        return None
    if isinstance(step, bool) or not isinstance(step, numbers.Real) \
            or not math.isfinite(step) or step < 0:
        raise ValueError('agingStep: expected None or a number of seconds '
                         '>= 0, not %r' % (step,))
    return float(step)


def epoch(value, name):
    """Epoch seconds of ``value``: a number of epoch seconds or a
    time-zone-aware datetime, at most LAST_TIME."""
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ScheduleError(
                '%s: %s is a naive datetime; give it a time zone (e.g. '
                'datetime.timezone.utc) or pass epoch seconds'
                % (name, value.isoformat()))
        seconds = value.timestamp()
    elif isinstance(value, numbers.Real) and not isinstance(value, bool):
        seconds = float(value)
    else:
        raise ScheduleError('%s: expected epoch seconds or an aware '
                            'datetime, not %r' % (name, value))
    if not math.isfinite(seconds) or not 0 <= seconds <= LAST_TIME:
        raise ScheduleError('%s: %r is not a time between 1970 and the end '
                            'of year 9999' % (name, value))
    return seconds


def start_time(at):
    """The ``at`` of a job as epoch seconds, or None."""
    return None if at is None else epoch(at, 'at')


def deadline(begin_by, start):
    """The deadline of a job that may start from ``start`` (epoch
    seconds): ``beginBy`` seconds after it, or an aware datetime; None
    when ``begin_by`` is None.  A deadline before ``start`` is refused."""
    if begin_by is None:
        return None
    if isinstance(begin_by, datetime.datetime):
        when = epoch(begin_by, 'beginBy')
    elif isinstance(begin_by, numbers.Real) \
            and not isinstance(begin_by, bool):
        if not math.isfinite(begin_by) or begin_by < 0:
            raise ScheduleError('beginBy: expected seconds >= 0 or an aware '
                                'datetime, not %r' % (begin_by,))
        when = epoch(start + begin_by, 'beginBy')
    else:
        raise ScheduleError('beginBy: expected seconds >= 0 or an aware '
                            'datetime, not %r' % (begin_by,))
    if when < start:
        raise ScheduleError('beginBy: the deadline %r comes before the job '
                            'may start (%r)' % (when, start))
    return when


#: The longest uniqueKey accepted (characters).
MAX_UNIQUE_KEY = 1000


def check_unique_key(key):
    """``uniqueKey``: None or a non-empty str of at most MAX_UNIQUE_KEY
    characters."""
    if key is None:
        return None
    if not isinstance(key, str) or not key \
            or len(key) > MAX_UNIQUE_KEY:
        raise ValueError('uniqueKey: expected a non-empty string of at most '
                         '%d characters, not %.80r' % (MAX_UNIQUE_KEY, key))
    return key
