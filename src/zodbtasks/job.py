"""Jobs: a request to run a task once (Job) or on a schedule (CronJob).

Jobs are plain records.  Their status changes only through the service,
which keeps its indexes (queue, schedule, status sets) in step with them.
"""
import dataclasses
import io
import pickle
import random

import persistent
import zope.interface

from zodbtasks import interfaces
from zodbtasks.cron import make_schedule

#: How much of a failure's traceback a job keeps (head and tail).
TRACEBACK_LIMIT = 64 * 1024


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """How a job is retried (stored on the job; immutable).

    ``maxAttempts``: how many times the job may be claimed in all.
    ``delay``: seconds before the first retry; each retry doubles it, with
    jitter (x0.5 to x1.5).  ``idempotent=False``: never run the job again
    once it started (a job whose worker was lost becomes ``error``).
    ``retryErrors``: also retry jobs whose task raised (by default a
    failing task's job becomes ``error`` at once).  ConflictErrors are
    always retried at once and do not count as attempts.
    """

    maxAttempts: int = 3
    delay: float = 1.0
    idempotent: bool = True
    retryErrors: bool = False

    def __post_init__(self):
        if not isinstance(self.maxAttempts, int) or self.maxAttempts < 1:
            raise ValueError('maxAttempts must be a whole number >= 1, not '
                             '%r' % (self.maxAttempts,))
        if not isinstance(self.delay, (int, float)) or self.delay < 0:
            raise ValueError('delay must be a number of seconds >= 0, not '
                             '%r' % (self.delay,))

    def mayRetry(self, attempts):
        """Whether a job claimed ``attempts`` times may run again."""
        return self.idempotent and attempts < self.maxAttempts

    def backOff(self, attempts, rng=random):
        """Seconds to wait before the next attempt."""
        return self.delay * 2 ** max(attempts - 1, 0) * rng.uniform(0.5, 1.5)


@zope.interface.implementer(interfaces.IJob)
class Job(persistent.Persistent):
    """See IJob."""

    output = None
    error = None
    traceback = None
    started = None
    completed = None
    attempts = 0
    owner = None
    progress = None
    progressMessage = None
    #: Order key of the job's entry in the service queue, while queued.
    queueKey = None
    #: Order key it had when claimed: a released job goes back there.
    releaseKey = None
    #: When a retry (or a cron run) is due; None while not scheduled.
    scheduledFor = None
    #: Until when the claim holds unless the owner's heartbeat renews it.
    leaseExpires = None
    retryPolicy = RetryPolicy()

    def __init__(self, id, task, input, created=None):
        self.id = id
        self.task = task
        self.input = input
        self.status = interfaces.QUEUED
        self.created = created

    def __repr__(self):
        return '<%s %s %r %s>' % (
            self.__class__.__name__, self.id, self.task, self.status)

    def __getstate__(self):
        """The state without attributes that are None like their class
        default: smaller pickles, since a job is written twice per run."""
        cls = type(self)
        return {name: value
                for name, value in super().__getstate__().items()
                if value is not None or getattr(cls, name, 0) is not None}

    def recordFailure(self, message, traceback_text=None):
        """Keep a failure's message and its (size-capped) traceback."""
        self.error = message
        self.traceback = cap_text(traceback_text)

    def clearOutcome(self):
        """Forget the result and error of a previous run."""
        self.output = None
        self.error = None
        self.traceback = None


@zope.interface.implementer(interfaces.ICronJob)
class CronJob(Job):
    """See ICronJob."""

    minute = hour = dayOfMonth = month = dayOfWeek = ()
    delay = None
    cron = None
    timezone = None
    #: How many times the job ran.
    runs = 0

    def __init__(self, id, task, input, minute=(), hour=(), dayOfMonth=(),
                 month=(), dayOfWeek=(), delay=None, cron=None,
                 timezone=None, created=None):
        super().__init__(id, task, input, created=created)
        self.update(minute=minute, hour=hour, dayOfMonth=dayOfMonth,
                    month=month, dayOfWeek=dayOfWeek, delay=delay,
                    cron=cron, timezone=timezone)
        self.status = (interfaces.DELAYED if self.delay is not None
                       else interfaces.CRONJOB)

    @property
    def schedule(self):
        """The schedule object (see zodbtasks.cron); derived, not stored.
        A stored delay is read without the maximum (update() applies it),
        so that jobs stored before there was one still work."""
        return make_schedule(
            minute=self.minute, hour=self.hour, dayOfMonth=self.dayOfMonth,
            month=self.month, dayOfWeek=self.dayOfWeek, delay=self.delay,
            cron=self.cron, timezone=self.timezone, max_delay=None)

    @property
    def isDelayed(self):
        """Whether the job runs once after a delay (else it repeats)."""
        return self.delay is not None

    def timeOfNextCall(self, now):
        """See ICronJob."""
        return self.schedule.next_after(now)

    def update(self, minute=(), hour=(), dayOfMonth=(), month=(),
               dayOfWeek=(), delay=None, cron=None, timezone=None):
        """See ICronJob."""
        schedule = make_schedule(
            minute=minute, hour=hour, dayOfMonth=dayOfMonth, month=month,
            dayOfWeek=dayOfWeek, delay=delay, cron=cron, timezone=timezone)
        self.minute = getattr(schedule, 'minute', ())
        self.hour = getattr(schedule, 'hour', ())
        self.dayOfMonth = getattr(schedule, 'dayOfMonth', ())
        self.month = getattr(schedule, 'month', ())
        self.dayOfWeek = getattr(schedule, 'dayOfWeek', ())
        self.delay = getattr(schedule, 'delay', None)
        self.cron = getattr(schedule, 'expression', None)
        self.timezone = getattr(schedule, 'timezone', None)

    def describeSchedule(self):
        """A short human description of the schedule."""
        return self.schedule.describe()


def cap_text(text, limit=TRACEBACK_LIMIT):
    """Keep at most ``limit`` characters of ``text``: its head and tail."""
    if text is None or len(text) <= limit:
        return text
    half = limit // 2
    return '%s\n[... %d characters left out ...]\n%s' % (
        text[:half], len(text) - 2 * half, text[-half:])


class _PersistentReferences(pickle.Pickler):
    """A pickler that stores persistent objects by reference, as ZODB
    does, so that only the non-persistent part of a value is checked."""

    def persistent_id(self, obj):
        if isinstance(obj, persistent.Persistent):
            return id(obj)
        return None


def check_picklable(value, what):
    """Raise InputError naming ``what`` when ``value`` cannot be stored."""
    try:
        _PersistentReferences(io.BytesIO(), protocol=3).dump(value)
    except (pickle.PicklingError, TypeError, AttributeError, ValueError,
            RecursionError) as exc:
        raise interfaces.InputError(
            '%s cannot be stored in the ZODB: %s: %s'
            % (what, type(exc).__name__, exc)) from exc
