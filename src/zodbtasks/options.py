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
    return _key(key, 'uniqueKey')


def check_group_key(key):
    """``groupKey``: the same as ``uniqueKey``."""
    return _key(key, 'groupKey')


def _key(key, name):
    if key is None:
        return None
    if not isinstance(key, str) or not key \
            or len(key) > MAX_UNIQUE_KEY:
        raise ValueError('%s: expected a non-empty string of at most %d '
                         'characters, not %.80r' % (name, MAX_UNIQUE_KEY,
                                                   key))
    return key


#: The longest tag (tag, afterTag, afterTask, serializationTag) accepted.
MAX_TAG = 200
#: The most labels one keyword may list, and the most job ids in
#: ``after`` (a larger fan-in waits for a tag instead).
MAX_TAGS = 100
MAX_AFTER = 10000
#: What a waiting job does when something it waits for fails.
DEPENDENCY_FAILURE_POLICIES = ('wait', 'run', 'cancel')


def _one_tag(value, name):
    if not isinstance(value, str) or not value or len(value) > MAX_TAG:
        raise ValueError('%s: expected a non-empty string of at most %d '
                         'characters, not %.80r' % (name, MAX_TAG, value))
    return value


def tags(value, name):
    """A string or strings (``tag``, ``afterTag``, ``afterTask``) as a
    sorted tuple without repeats."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (_one_tag(value, name),)
    try:
        values = list(_bounded(value, MAX_TAGS, name))
    except TypeError:
        raise ValueError('%s: expected a string or a list of strings, not '
                         '%.80r' % (name, value)) from None
    return tuple(sorted({_one_tag(item, name) for item in values}))


def serialization_tag(value):
    """``serializationTag``: None or one non-empty string."""
    return None if value is None else _one_tag(value, 'serializationTag')


def after_ids(value):
    """``after``: a job id or ids, as a sorted tuple without repeats
    (whether they exist is the service's business)."""
    if value is None:
        return ()
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return (int(value),)
    if isinstance(value, (str, bytes)):
        raise ValueError('after: expected a job id or a list of job ids, '
                         'not %.80r' % (value,))
    try:
        values = list(_bounded(value, MAX_AFTER, 'after'))
    except TypeError:
        raise ValueError('after: expected a job id or a list of job ids, '
                         'not %.80r' % (value,)) from None
    for item in values:
        if isinstance(item, bool) or not isinstance(item, numbers.Integral):
            raise ValueError('after: %.80r is not a job id' % (item,))
    return tuple(sorted({int(item) for item in values}))


def dependency_failure(value):
    """``onDependencyFailure``: 'wait', 'run' or 'cancel'."""
    if value not in DEPENDENCY_FAILURE_POLICIES:
        raise ValueError('onDependencyFailure: expected one of %s, not %.80r'
                         % (', '.join(map(repr, DEPENDENCY_FAILURE_POLICIES)),
                            value))
    return value


def limit(value, name):
    """A task limit (``maxRunning``, ``perMinute``): None (no limit) or
    an int >= 0 (0: none start)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) \
            or value < 0:
        raise ValueError('%s: expected None (no limit) or a whole number '
                         '>= 0, not %.80r' % (name, value))
    return int(value)


def _bounded(values, most, name):
    """Iterate ``values``, refusing more than ``most`` of them."""
    for count, item in enumerate(values):
        if count >= most:
            raise ValueError('%s: more than %d values' % (name, most))
        yield item


def job_options(priority=0, at=None, beginBy=None, after=(), tag=(),
                afterTag=(), afterTask=(), onDependencyFailure='wait',
                serializationTag=None, timeLimit=None, now=0.0):
    """The attributes a new job gets from ``add``'s keywords (only those
    that differ from a job's defaults), and when it may start (None: at
    once).  Raises before anything is created."""
    if type(priority) is int and not priority and at is None \
            and beginBy is None and onDependencyFailure == 'wait' \
            and serializationTag is None and timeLimit is None and all(
                type(value) is tuple and not value
                for value in (after, tag, afterTag, afterTask)):
        return {}, None  # the defaults: the common case, made cheap
    settings = {
        'priority': check_priority(priority),
        'after': after_ids(after),
        'tags': tags(tag, 'tag'),
        'afterTag': tags(afterTag, 'afterTag'),
        'afterTask': tags(afterTask, 'afterTask'),
        'onDependencyFailure': dependency_failure(onDependencyFailure),
        'serializationTag': serialization_tag(serializationTag),
        'timeLimit': time_limit(timeLimit),
    }
    start = start_time(at)
    settings['deadline'] = deadline(beginBy, max(start or now, now))
    defaults = {'priority': 0, 'after': (), 'tags': (), 'afterTag': (),
                'afterTask': (), 'onDependencyFailure': 'wait',
                'serializationTag': None, 'deadline': None,
                'timeLimit': None}
    return {name: value for name, value in settings.items()
            if value != defaults[name]}, start


def time_limit(value):
    """``timeLimit``: None or seconds > 0."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) \
            or not math.isfinite(value) or value <= 0:
        raise ValueError('timeLimit: expected None or a number of seconds '
                         '> 0, not %.80r' % (value,))
    return float(value)
