"""Jobs: a request to run a task once (Job) or on a schedule (CronJob).

Jobs are records plus what their kind decides: which status a job waits
in, and where it goes after a run, after its worker was lost and after a
claim that did not run (``after_run``, ``after_loss``, ``after_release``).
They never touch the service's queue, schedule or indexes: the job-state
layer (``zodbtasks.jobmaps``) applies what they decide.
"""
import collections
import io
import pickle

import persistent
from ZODB.POSException import ConflictError
import zope.interface

from zodbtasks import interfaces
from zodbtasks import jobstate
from zodbtasks.cron import make_schedule
from zodbtasks.retry import DEFAULT as DEFAULT_RETRY_POLICY
from zodbtasks.retry import RetryPolicy  # noqa: F401 (pickled here by 0.1)

#: How much of a failure's traceback a job keeps (head and tail).
TRACEBACK_LIMIT = 64 * 1024

#: Where a job goes next: its status and, when it is not None, the time
#: at which it is scheduled to run (None: it is not scheduled).
Next = collections.namedtuple('Next', 'status at')


@zope.interface.implementer(interfaces.IJob)
class Job(persistent.Persistent):
    """See IJob."""

    input = None
    output = None
    error = None
    traceback = None
    started = None
    completed = None
    attempts = 0
    owner = None
    #: The ends of its claims (zodbtasks.attempts): (worker, start, end,
    #: outcome) tuples, bounded; ``historyOmitted`` counts the dropped.
    history = ()
    historyOmitted = 0
    #: When the job last entered the queue (None: not since 0.1).
    enqueued = None
    #: Order key of the job's entry in the service queue, while queued.
    queueKey = None
    #: Order key it had when claimed: a released job goes back there.
    releaseKey = None
    #: When a retry (or a cron run) is due; None while not scheduled.
    scheduledFor = None
    #: Written by 0.1 and never read: the lease is the worker's heartbeat.
    leaseExpires = None
    retryPolicy = DEFAULT_RETRY_POLICY
    #: Lower runs earlier (see zodbtasks.keys.ready_key).
    priority = 0
    #: Epoch seconds: a job not started by then ends in error.
    deadline = None
    #: While the job waits, add() with this key returns the job's id.
    uniqueKey = None
    #: Dependencies (see zodbtasks.dependencies): ids of jobs to wait for,
    #: the job's own tags, the tags and tasks whose jobs it waits for.
    after = ()
    tags = ()
    afterTag = ()
    afterTask = ()
    onDependencyFailure = 'wait'
    #: At most one job with this tag runs at any moment.
    serializationTag = None
    #: Seconds a run may take (checked at the task's checkpoints).
    timeLimit = None
    #: The id of the principal the job runs as (None: the system).
    runAs = None
    #: Where it runs as that principal (see IJobEnvironment).
    runContext = None
    #: Jobs of a grouping task run in one group only with jobs of the
    #: same key (zodbtasks.grouping).
    groupKey = None
    #: Group membership (zodbtasks.groups): the group id and position.
    group = None
    groupIndex = None
    #: The group whose callback this job is.
    callbackOf = None
    #: The next step of a chain: (task, input, options), added when the
    #: job completes.
    then = None
    #: How many of ``after`` are known to be done (they stay done).
    afterCursor = 0
    #: While blocked: the id of the job it watches.
    waitsOn = None
    #: Whether a blocked job watches (or watched) this one.
    watched = False
    #: While held back (zodbtasks.holds): the gate and the queue key.
    parkedOn = None
    parkKey = None
    #: The status a job waits in before it runs.
    waiting_status = interfaces.QUEUED
    #: Whether a due scheduled run is claimed at once (else the job joins
    #: the ready queue at its place).
    claims_when_due = False

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
        default, in its stored form (``zodbtasks.jobstate``): smaller
        pickles, since a job is written twice per run."""
        cls = type(self)
        return jobstate.encode({
            name: value for name, value in super().__getstate__().items()
            if value is not None or getattr(cls, name, 0) is not None})

    def __setstate__(self, state):
        super().__setstate__(jobstate.decode(state))

    def _p_resolveConflict(self, old, committed, new):
        """Merge a registration of a watcher (which writes only
        ``watched``) with a change that came after it; any other pair of
        changes conflicts (two claims of one job must)."""
        old, committed, new = (jobstate.decode(state)
                               for state in (old, committed, new))
        ours, theirs = _changed(old, new), _changed(old, committed)
        if theirs <= {'watched'}:
            return jobstate.encode(dict(new, watched=True))
        if ours <= {'watched'} and 'status' not in theirs:
            return jobstate.encode(dict(committed, watched=True))
        raise ConflictError(
            'job %s changed in two transactions' % old.get('id'))

    def recordFailure(self, message, traceback_text=None):
        """Keep a failure's message and its (size-capped) traceback."""
        self.error = message
        self.traceback = cap_text(traceback_text)

    def clearOutcome(self):
        """Forget the result and error of a previous run."""
        self.output = None
        self.error = None
        self.traceback = None

    # -- what the kind decides (applied by zodbtasks.jobmaps) ------------

    def when_pulled(self, now):
        """None: a job pulled from the queue is claimed now; a time: it is
        scheduled for then instead."""
        return None

    def after_run(self, now, error):
        """Where the job goes after a run that ended at ``now`` (with
        ``error``, a message, or None)."""
        policy = self.retryPolicy
        if error is None:
            return Next(interfaces.COMPLETED, None)
        if policy.mayRetryError(self.attempts):
            return Next(interfaces.QUEUED, now + policy.backOff(self.attempts))
        return Next(interfaces.ERROR, None)

    def after_loss(self, now):
        """Where the job goes after its worker was lost at ``now`` (the
        failure is recorded already)."""
        policy = self.retryPolicy
        if policy.mayRetry(self.attempts):
            return Next(self.waiting_status,
                        now + policy.backOff(self.attempts))
        if not policy.idempotent:
            self.recordFailure(self.error + '; not retried: the job is not '
                               'idempotent')
        return Next(interfaces.ERROR, None)

    def after_release(self):
        """Where a claimed job that did not run goes back; ``at`` None:
        the queue, at the position it was claimed from."""
        return Next(interfaces.QUEUED, None)

    def cancel_while_running(self):
        """Whether the kind handles a cancel while the job runs; a plain
        job does not: ``cancel`` records a request that the task sees at
        its next checkpoint (see zodbtasks.cancels)."""
        return False


@zope.interface.implementer(interfaces.ICronJob)
class CronJob(Job):
    """See ICronJob."""

    minute = hour = dayOfMonth = month = dayOfWeek = ()
    delay = None
    cron = None
    timezone = None
    runs = 0
    cancelRequested = False
    claims_when_due = True

    def __init__(self, id, task, input, minute=(), hour=(), dayOfMonth=(),
                 month=(), dayOfWeek=(), delay=None, cron=None,
                 timezone=None, created=None):
        super().__init__(id, task, input, created=created)
        self.update(minute=minute, hour=hour, dayOfMonth=dayOfMonth,
                    month=month, dayOfWeek=dayOfWeek, delay=delay,
                    cron=cron, timezone=timezone)
        self.status = self.waiting_status

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
        """See ICronJob."""
        return self.delay is not None

    @property
    def waiting_status(self):
        return interfaces.DELAYED if self.isDelayed else interfaces.CRONJOB

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
        """See ICronJob."""
        return self.schedule.describe()

    # -- what the kind decides -------------------------------------------

    def when_pulled(self, now):
        """A waiting cron job in the queue is scheduled from ``now`` (the
        first time a processor sees it, or after ``reschedule``)."""
        if self.status == self.waiting_status:
            return self.timeOfNextCall(now)
        return None

    def after_run(self, now, error):
        self.runs += 1
        if self.isDelayed:
            return super().after_run(now, error)
        if self.cancelRequested:
            self.cancelRequested = False
            return Next(interfaces.CANCELLED, None)
        return Next(interfaces.CRONJOB, self.timeOfNextCall(now))

    def after_loss(self, now):
        if self.isDelayed:
            return super().after_loss(now)
        return Next(interfaces.CRONJOB, self.timeOfNextCall(now))

    def after_release(self):
        return Next(self.waiting_status, self.scheduledFor or self.started)

    def cancel_while_running(self):
        """A running repeating cron job ends ``cancelled`` after this run
        instead of being rescheduled; a delayed job runs once anyway."""
        if self.isDelayed:
            return False
        self.cancelRequested = True
        return True


def _changed(old, state):
    """The names of the attributes that differ between two states."""
    missing = object()
    names = set()
    for name in set(old) | set(state):
        try:
            if old.get(name, missing) != state.get(name, missing):
                names.add(name)
        except Exception:  # values that cannot be compared differ
            names.add(name)
    return names


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
