"""The zodbtasks contract: tasks, jobs, task services and processors.

Everything a caller relies on is declared here: status constants, the
exceptions callers handle, and the interfaces with their behaviour.
Implementations say "See IX" and only add what is specific to them.

Times are epoch seconds (floats, UTC) throughout.  Methods that take a
``now`` argument default it to the current time; tests pass it explicitly.
"""
import zope.interface
import zope.schema
from zope.location.interfaces import IContained


# -- Job statuses (the values are lovely.remotetask's) -----------------------

QUEUED = 'queued'
PROCESSING = 'processing'
COMPLETED = 'completed'
ERROR = 'error'
CANCELLED = 'cancelled'
DELAYED = 'delayed'
CRONJOB = 'cronjob'
STARTLATER = 'startlater'
#: Waits for other jobs (``after``, ``afterTag``, ``afterTask``).
BLOCKED = 'blocked'

#: Every status a job can have, in the order the UI lists them.
STATUSES = (QUEUED, PROCESSING, COMPLETED, ERROR, CANCELLED, DELAYED,
            CRONJOB, STARTLATER, BLOCKED)
#: Statuses of jobs that will not run again; ``clean()`` removes them.
FINISHED = (CANCELLED, ERROR, COMPLETED)
#: Statuses of jobs that have not started; ``cancelAll()`` cancels them.
WAITING = (QUEUED, DELAYED, CRONJOB, STARTLATER, BLOCKED)
#: The default of ``add``'s ``runAs``: the current interaction's principal.
CURRENT_PRINCIPAL = object()

#: Columns ``queryJobs`` (and the Jobs tab) can sort on.
SORT_KEYS = ('id', 'task', 'status', 'started', 'completed')


# -- Exceptions callers handle -------------------------------------------------

class TaskError(Exception):
    """An expected failure of a task: the job's status becomes ``error``
    and ``getError`` gives this error's message (no traceback is logged at
    error level).  Also importable as ``zodbtasks.task.TaskError``.
    """


class ScheduleError(ValueError):
    """A cron spec, cron string, delay or time zone is invalid.

    The message names the field and the offending value, e.g.
    ``minute: 60 is out of range 0-59``.
    """


class UnknownTaskError(LookupError):
    """No `ITask` utility of that name is visible from the service's site.

    Raised by ``add`` and ``addCronJob``; no job is created.
    """


class JobCancelled(Exception):
    """Raised in a running task by ``zodbtasks.task.checkpoint`` (or
    ``reportProgress``) once ``cancel`` was asked for its job: the job's
    transaction is aborted (nothing it changed is committed) and the job
    ends ``cancelled``.  A task must let it through.  Also importable
    from ``zodbtasks.task``."""


class TimeLimitExceeded(TaskError):
    """Raised in a running task by ``checkpoint`` (or ``reportProgress``)
    once the job ran longer than its ``timeLimit``: the job's transaction
    is aborted and it ends ``error`` ("time limit of N s exceeded") or is
    retried by its policy.  Also importable from ``zodbtasks.task``."""


class InputError(TypeError):
    """A job's input cannot be stored in the ZODB (it cannot be pickled).

    Raised by ``add`` and ``addCronJob``; no job is created.
    """


class PendingChangesError(RuntimeError):
    """A batch operation was called with uncommitted changes in the caller's
    connection.

    ``process``, ``processNext``, ``clean`` and ``cancelAll`` run in
    transactions of their own and commit them; they refuse to start while
    the caller's connection holds changes it has not committed, because
    those would be committed (or aborted) with the first batch.
    """


# -- Tasks ---------------------------------------------------------------------

class ITask(zope.interface.Interface):
    """A task: registered as a named utility providing ITask.

    The utility's name is the task name that jobs refer to.
    """

    def __call__(service, jobid, input):
        """Run the task for job ``jobid`` of ``service`` and return a result.

        The result is stored on the job; it must be picklable.  Raise
        ``zodbtasks.task.TaskError`` for an expected failure: the job's
        status becomes ``error`` and its message is the error's text.
        The task runs inside the job's transaction, with the service's site
        as the current site; it must not commit or abort that transaction.
        """


#: The largest ``groupSize`` a batch task may declare.
MAX_GROUP_SIZE = 1000


class IBatchTask(ITask):
    """A task whose jobs run in groups: up to ``groupSize`` claimed jobs
    of the task, with the same ``groupKey`` (an ``add()`` keyword) and
    the same principal (``runAs``), run in **one** transaction, wherever
    jobs run (processor threads, worker processes, ``process()``).

    ``SimpleTask(func, groupSize=100)`` provides it.  A group's call
    fails no job by itself: when ``runBatch`` raises, or returns what
    cannot be stored, the group's changes are rolled back to a savepoint
    and each job runs alone (``runBatch`` with a list of one job, in a
    savepoint of its own), so that only the jobs that fail alone end in
    error.  Jobs that run alone for other reasons (the callback of a
    group, whose input is made when it runs) are called as an ITask.
    """

    groupSize = zope.interface.Attribute(
        'The most jobs one group has: a whole number from 1 to '
        'MAX_GROUP_SIZE.')

    def runBatch(service, jobs):
        """Run ``jobs`` (a list of IJob: read each one's ``id`` and
        ``input``, change none) inside the group's transaction and return
        a list with one entry per job, in order: the job's result, or an
        exception instance for a job that failed (it ends ``error`` with
        that exception's message, or is retried by its retry policy; a
        ``JobCancelled`` instance makes it ``cancelled``).  What the
        task changed for a job it returns an exception for is committed
        with the others unless the task rolled it back itself (a
        savepoint per job: ``SimpleTask`` does so).
        """


# -- Jobs --------------------------------------------------------------------

class IJob(zope.interface.Interface):
    """A request to run a task once, stored in a task service."""

    id = zope.schema.Int(
        title='Id', description='Unique in its service; grows with time.',
        readonly=True)
    task = zope.schema.TextLine(
        title='Task', description='Name of the ITask utility to run.',
        readonly=True)
    input = zope.interface.Attribute('The input passed to the task.')
    output = zope.interface.Attribute(
        'The result of the last run (None before it ran).')
    status = zope.schema.Choice(
        title='Status', values=STATUSES, default=QUEUED)
    error = zope.schema.Text(
        title='Error', description='Message of the last failure, or None.',
        required=False)
    traceback = zope.schema.Text(
        title='Traceback', description='Of the last failure (size-capped).',
        required=False)
    created = zope.schema.Float(title='Created (epoch seconds)')
    started = zope.schema.Float(
        title='Last run started (epoch seconds)', required=False)
    completed = zope.schema.Float(
        title='Last run finished (epoch seconds)', required=False)
    attempts = zope.schema.Int(
        title='Attempts', description='How many times the job was claimed.',
        default=0)
    history = zope.interface.Attribute(
        'The ends of its claims, oldest first: (worker id, start, end, '
        'outcome) tuples, outcome None (completed), "error: <first line>", '
        '"lost", "cancelled" or "released"; the first and the last 20 are '
        'kept (zodbtasks.attempts); () for a job stored before 0.2.')
    historyOmitted = zope.schema.Int(
        title='Attempts omitted',
        description='How many ends of claims the history left out.',
        default=0)
    owner = zope.schema.TextLine(
        title='Owner', description='Id of the worker running it, or None.',
        required=False)
    enqueued = zope.schema.Float(
        title='Last queued (epoch seconds)',
        description='When the job last entered the queue; None for jobs '
        'queued before zodbtasks 0.2 (their creation time counts then).',
        required=False)
    retryPolicy = zope.interface.Attribute(
        'A zodbtasks.retry.RetryPolicy: how the job is retried when its '
        'worker is lost or, if the policy says so, when its task fails.')
    priority = zope.schema.Int(
        title='Priority', description='Lower runs earlier.', default=0)
    uniqueKey = zope.schema.TextLine(
        title='Unique key', description='While the job waits, add() with '
        'this key returns its id.', required=False)
    deadline = zope.schema.Float(
        title='Deadline (epoch seconds)',
        description='Not started by then, the job ends in error.',
        required=False)
    after = zope.interface.Attribute('Ids of the jobs it waits for.')
    tags = zope.interface.Attribute('Its tags (a sorted tuple).')
    afterTag = zope.interface.Attribute(
        'The tags whose other jobs it waits for (a sorted tuple).')
    afterTask = zope.interface.Attribute(
        'The tasks whose other jobs it waits for (a sorted tuple).')
    onDependencyFailure = zope.interface.Attribute(
        "'wait', 'run' or 'cancel' (see IWriteTaskService.add).")
    serializationTag = zope.interface.Attribute(
        'At most one job with this tag runs at any moment; or None.')
    timeLimit = zope.interface.Attribute(
        'Seconds a run may take (checked at checkpoints), or None.')
    runAs = zope.interface.Attribute(
        'The id of the principal it runs as, or None (the system).')
    runContext = zope.interface.Attribute(
        'Where it runs as that principal, beyond the id: None, or a tuple '
        'of (name, value) pairs (in Zope: the user folder, the site and '
        'the request facts recorded by add(); see IJobEnvironment).')


class ICronJob(IJob):
    """A job that runs on a schedule and reschedules itself.

    Exactly one of three kinds of schedule is set: lovely-style fields
    (``minute``, ``hour``, ``dayOfMonth``, ``month``, ``dayOfWeek``; all
    given fields must match; Monday=0), a five-field ``cron`` string
    (Sunday=0 or 7, the usual day-of-month / day-of-week OR rule), or a
    ``delay`` in seconds (the job then runs once and completes).  With no
    field, cron string or delay at all, the job runs every minute, as in
    lovely.remotetask (changed in 0.1: this used to raise ScheduleError).

    A field is a tuple of at most 1,000 ints within its range.
    ``zodbtasks.cron.parse_field(name, text)`` reads a field written as
    text with the items of a cron string field (``*``, ``5``, ``1-5``,
    ``*/15``, ``10-50/10``, comma-separated); a step needs ``*`` or a range
    (``5/15`` is refused: write ``5-59/15``) and a reversed range
    (``50-10``) is refused, in cron strings too.  ``delay`` is at most
    ``zodbtasks.cron.MAX_DELAY`` (100 years), finite and >= 0.
    """

    minute = zope.schema.Tuple(title='Minutes (0-59)', default=())
    hour = zope.schema.Tuple(title='Hours (0-23)', default=())
    dayOfMonth = zope.schema.Tuple(title='Days of month (1-31)', default=())
    month = zope.schema.Tuple(title='Months (1-12)', default=())
    dayOfWeek = zope.schema.Tuple(
        title='Days of week (0-6, Monday=0)', default=())
    delay = zope.schema.Float(
        title='Delay (seconds)', required=False, min=0.0)
    cron = zope.schema.TextLine(title='Cron string', required=False)
    timezone = zope.schema.TextLine(
        title='IANA time zone of the schedule (default UTC)', required=False)
    scheduledFor = zope.schema.Float(
        title='Next run (epoch seconds)',
        description='None until a processor first sees the job.',
        required=False)
    runs = zope.schema.Int(
        title='Runs', description='How many times the job ran.', default=0)
    isDelayed = zope.schema.Bool(
        title='Delayed', description='Whether the job runs once after a '
        'delay (else it repeats on its schedule).', readonly=True)
    cancelRequested = zope.schema.Bool(
        title='Cancel requested',
        description='Set by ``cancel`` while the job runs: it ends '
        '``cancelled`` after this run instead of being rescheduled.',
        default=False)

    def describeSchedule():
        """A short human description of the schedule, e.g. 'at minute 0
        and 30 past hour 3 (UTC)'."""

    def timeOfNextCall(now):
        """The next run strictly after ``now`` (epoch seconds)."""

    def update(minute=(), hour=(), dayOfMonth=(), month=(), dayOfWeek=(),
               delay=None, cron=None, timezone=None):
        """Replace the schedule; takes ``addCronJob``'s keywords.

        Raises ScheduleError and leaves the job unchanged when the new
        schedule is invalid.  Call the service's ``reschedule(jobid)``
        afterwards so that the new schedule takes effect.
        """


# -- Task services -------------------------------------------------------------

class IReadTaskService(zope.interface.Interface):
    """What viewing a task service needs (permission zodbtasks.ViewJobs);
    its fields are the service's settings."""

    jobs = zope.interface.Attribute(
        'A BTree mapping job id (int) to job; read it, do not change it.')

    pollInterval = zope.schema.Float(
        title='Poll interval (seconds)',
        description='How often the processor looks for due jobs when '
        'nothing wakes it up.', default=1.0, min=0.01)

    leaseTimeout = zope.schema.Float(
        title='Lease timeout (seconds)',
        description='A worker that sent no heartbeat for this long is '
        'lost; its running jobs are retried or fail.', default=60.0,
        min=1.0)

    agingStep = zope.schema.Float(
        title='Aging step (seconds)',
        description='How many seconds of waiting one priority level is '
        'worth: a ready job takes its place at the time it became ready '
        'plus priority times this (default 300), so low priorities are not '
        'starved.  None: strict priorities, as in CMFActivity.  A change '
        'applies to jobs queued afterwards.', required=False, min=0.0,
        default=300.0)

    maxInputSize = zope.schema.Int(
        title='Largest input or result (bytes, pickled)',
        description='A bigger input is refused by add() with InputError; a '
        'bigger result ends its job in error ("result too large"), the '
        "task's effects aborted.  Default: the product-config key "
        'max-input-size, or 1048576.', min=1)

    heartbeatInterval = zope.schema.Float(
        title='Heartbeat interval (seconds)',
        description='How often a worker renews its lease: a quarter of '
        'leaseTimeout.', readonly=True)

    path = zope.interface.Attribute(
        'The names from the root folder down to this service (a tuple).')

    def getSite():
        """The site whose site manager holds this service, or None."""

    def getSiteManager():
        """The site manager holding this service (the global one when the
        service is not stored in a site)."""

    def __getitem__(jobid):
        """The job ``jobid`` (an int or its decimal text); KeyError."""

    def __contains__(jobid):
        """Whether a job ``jobid`` exists."""

    def __len__():
        """How many jobs the service holds."""

    def getAvailableTasks():
        """A dict name -> task of the ITask utilities visible from the
        service's site (local ones and global ones)."""

    def getTask(name):
        """The ITask utility named ``name`` as seen from the service's site;
        UnknownTaskError when there is none."""

    def getStatus(jobid):
        """The job's status (KeyError for an unknown id)."""

    def getResult(jobid):
        """The job's result; for a cron job, that of its last run."""

    def getError(jobid):
        """The message of the job's last failure, or None."""

    def getProgress(jobid):
        """``(fraction, message)`` last reported by the job's task with
        ``zodbtasks.task.reportProgress`` during its current or last run,
        or None."""

    def countByStatus():
        """A dict status -> number of jobs, for every status (no job is
        loaded)."""

    def countByTask():
        """A dict task name -> number of jobs."""

    def jobIdsByStatus(status):
        """The ids of the jobs having ``status``, oldest first, as a lazy
        sequence (iterating and slicing load only what they use)."""

    def queryJobs(status=None, task=None, sortOn='id', reverse=True,
                  start=0, size=50, tag=None):
        """``(total, jobs)``: how many jobs match ``status``, ``task`` and
        ``tag`` (None: any), and the page ``start:start+size`` of them sorted on
        ``sortOn`` ('id' (creation), 'task', 'status', 'started' or
        'completed'; jobs without that time come after the others), newest
        or greatest first when ``reverse``.  Loads only the page's jobs.
        ValueError for another ``sortOn``."""

    def finishedPerMinute(now=None, minutes=60):
        """How many jobs finished in each of the last ``minutes`` minutes
        before ``now``, oldest minute first."""

    def oldestWaiting(now=None):
        """Seconds the oldest waiting job (queued, or scheduled and due)
        has waited at ``now``, or None when nothing waits."""

    def nextScheduledTime():
        """The earliest scheduled run (epoch seconds), or None."""

    def findUnique(uniqueKey):
        """The id of the waiting job added with ``uniqueKey``, or None."""

    def workers(now=None):
        """The workers that claimed jobs of this service: a list of dicts
        with ``id``, ``heartbeat``, ``started``, ``running`` (job ids)
        and ``alive`` (heartbeat within ``leaseTimeout`` of ``now``)."""

    def stuckJobs(now=None):
        """The jobs claimed by workers that are no longer alive."""

    def overTimeLimit(now=None):
        """The running jobs that ran longer than their ``timeLimit`` (or
        their task's) at ``now``: tasks that do not reach a checkpoint."""

    def checkIndex():
        """Compare the indexes (status and task sets and their counts, the
        time indexes, the queue, the schedule, the worker records) with
        the jobs, which are the truth; return the problems found, one line
        each naming the job or entry (an empty list: they agree).  Reads
        only; loads every job."""

    def isProcessing():
        """Whether this service's processor thread runs in this process."""


class IWriteTaskService(zope.interface.Interface):
    """What changing a task service needs (permission zodbtasks.ManageJobs).
    """

    def add(task, input=None, startLater=False, *, priority=0, at=None,
            beginBy=None, after=(), tag=(), afterTag=(), afterTask=(),
            onDependencyFailure='wait', serializationTag=None,
            uniqueKey=None, retryPolicy=None, timeLimit=None,
            runAs=CURRENT_PRINCIPAL, then=None, groupKey=None, now=None):
        """Add a job running the task named ``task`` and return its id.

        The job is ``queued`` (or ``startlater`` with ``startLater=True``,
        until ``startJob``).  ``priority`` (an int, lower runs earlier,
        negatives allowed): a ready job's place is the time it became
        ready plus ``priority * agingStep``; FIFO within a priority.
        ``at`` (epoch seconds or an aware datetime): the job is
        ``delayed`` until then.  ``beginBy`` (seconds after it may start,
        or an aware datetime): a job not started by then ends ``error``
        ("deadline passed: not started by ...") and never runs.
        ``uniqueKey`` (a string): while a job with that key waits
        (queued, delayed or startlater), ``add`` returns its id and creates
        nothing; once it started, a new job is made.  Exact across
        processes: two transactions adding one key conflict.
        ``after`` (job ids), ``afterTag`` (tags) and ``afterTask`` (task
        names): the job is ``blocked`` until each job in ``after`` has
        finished and no *other* job carrying one of the tags or of one of
        the tasks is waiting, blocked, running or failed (jobs added later
        count, as in CMFActivity); ``tag`` labels the job.
        ``onDependencyFailure``: when something it waits for ends in
        ``error`` or is cancelled (or deleted before it finished), 'wait'
        (stay blocked until it is retried to success or deleted), 'run'
        (run anyway) or 'cancel' (cancelled, with the reason as its
        error; its own dependents then apply their policies).
        ``serializationTag``: at most one job with that tag runs at any
        moment, in all processes; the others stay queued in their order.
        ``retryPolicy`` (a zodbtasks.retry.RetryPolicy) says how it is
        retried when its worker is lost or, if asked, when its task fails;
        a retried job keeps its priority and tags.  ``timeLimit``
        (seconds > 0; a task's ``timeLimit`` attribute applies to its jobs
        without one): the first ``checkpoint`` past it raises
        ``TimeLimitExceeded`` and the job ends ``error`` ("time limit of
        N s exceeded") or is retried by its policy.  ``runAs``: by
        default the id of the current interaction's principal (the first
        participation's; None without an interaction); a principal id, or
        None for the system.  The job runs in an interaction of that
        principal, looked up through the ``IAuthentication`` utility of
        the service's site; one that no longer exists ends the job
        ``error`` ("principal ... no longer exists").  ``then`` (a chain
        step: ``(task, input)`` or ``(task, input, options)``, the input a
        dict or None): when the job completes, the next job is added, in
        the transaction that folds it, with this job's result under
        ``'result'`` of a copy of its input and ``options`` as its
        ``add()`` keywords (a ``then`` of its own chains further).
        ``groupKey`` (a string): the jobs of a grouping task (IBatchTask)
        run in one group only with jobs of the same key.  Raises
        UnknownTaskError for a task name that is not registered,
        InputError for an input that cannot be stored, LookupError for an
        unknown id in ``after``, ValueError for a priority that is not a
        whole number, a tag or key that is not a non-empty string or an
        unknown policy, and ScheduleError for a naive datetime or a time
        after year 9999; no job is created then.  ``now`` is the creation
        time.
        """

    def addCronJob(task, input=None, minute=(), hour=(), dayOfMonth=(),
                   month=(), dayOfWeek=(), delay=None, cron=None,
                   timezone=None, now=None, *, priority=0, tag=(),
                   serializationTag=None):
        """Add a cron job (status ``cronjob``) or, with ``delay``, a delayed
        job (status ``delayed``) and return its id.

        The schedule is validated now (ScheduleError; see ICronJob, and
        no schedule at all means every minute); its first run is computed
        from the processor's ``now`` when a processor first sees the job.
        ``priority``, ``tag`` and ``serializationTag`` as for ``add``: a
        run of a cron job with a serialization tag waits (it is tried
        again every second) while another job with the tag runs, and a
        repeating cron job holds its tags only while it runs.  Raises
        UnknownTaskError and InputError as ``add`` does.
        """

    def updateCronJob(jobid, task, input=None, minute=(), hour=(),
                      dayOfMonth=(), month=(), dayOfWeek=(), delay=None,
                      cron=None, timezone=None):
        """Change a waiting (or running) cron or delayed job's task, input
        and schedule, and reschedule it.

        Everything is validated first (UnknownTaskError, InputError,
        ScheduleError) and nothing changes when something is invalid.
        ValueError for a job that is not a waiting or running cron job.
        """

    def startJob(jobid, now=None):
        """Queue a ``startlater`` job; return whether it was queued."""

    def cancel(jobid):
        """Cancel a waiting job (queued, blocked, delayed, cron or
        startlater) so that it never runs; return whether it was
        cancelled.  For a running job, record a cancel request (in a
        structure of its own: it never conflicts with the job's
        transaction) and return True: the task sees it at its next
        ``zodbtasks.task.checkpoint`` or ``reportProgress``, which raise
        ``JobCancelled``; the job's transaction is aborted (nothing it
        changed is committed) and it ends ``cancelled`` with the error
        "cancelled while running by <principal id or 'system'>".  A job
        that finishes before a checkpoint keeps its outcome; a running
        repeating cron job ends ``cancelled`` after this run instead.
        Finished jobs are left as they are.  Never scans all jobs."""

    def removeExpired(keep=None, now=None):
        """Remove the finished jobs older than their status's keep time at
        ``now``, in transactions of their own of at most 1,000 jobs
        (see PendingChangesError); return how many were removed.
        ``keep``: a dict of status (completed, error, cancelled) ->
        seconds; by default the product-config keys ``keep-completed``,
        ``keep-failed`` and ``keep-cancelled``, which the processors
        apply by themselves.  Cron jobs, and finished jobs their worker
        has not folded yet, are never removed."""

    def cancelAll():
        """Cancel every job that has not started, in bounded transactions of
        its own (see PendingChangesError); return how many were cancelled.
        """

    def reschedule(jobid):
        """Make a cron job's changed schedule take effect: the next run is
        computed afresh from the processor's next ``now``."""

    def retry(jobid, now=None):
        """Queue a failed or cancelled job again (its error is cleared);
        return whether it was queued."""

    def delete(jobid):
        """Remove a job that is not running (cancelling it first if it
        waits); return whether it was removed."""

    def clean(status=FINISHED):
        """Remove the jobs having one of the statuses, in bounded
        transactions of its own (see PendingChangesError); return how many
        were removed."""

    def rebuildIndex():
        """Repair every problem ``checkIndex`` reports, in bounded
        transactions of its own (see PendingChangesError; safe while
        processors run); return the problems that were repaired."""

    def process(now=None):
        """Run every job due at ``now`` in the calling thread, each job,
        or each group of a grouping task (IBatchTask), in a transaction
        of its own (see PendingChangesError); return how many
        ran.  Afterwards the caller's connection sees the results."""

    def processNext(now=None):
        """Run at most one due job as ``process`` does; return whether one
        ran."""

    def sweep(now=None):
        """Handle the jobs of lost workers: each is retried as its retry
        policy says (after a back-off) or marked ``error`` with a message
        starting 'worker lost'; finished jobs they had not indexed yet are
        indexed.  Returns how many running jobs were handled.  Processors
        call it regularly."""

    def startProcessing():
        """Start this service's processor thread in this process (no-op when
        it runs).  The thread is named ``zodbtasks.`` followed by the
        service's path segments joined by dots."""

    def stopProcessing():
        """Ask the processor thread to stop and return at once; the thread
        ends within one poll interval (after its current job)."""


class IActivities(zope.interface.Interface):
    """Pausing, limits and explanations, shared by every process (each
    claim reads them)."""

    def pause(task=None):
        """Stop claiming jobs of the whole service, or of ``task``, in
        every process (running jobs finish); see ``resume``."""

    def resume(task=None):
        """Claim again what ``pause`` stopped; held jobs keep their
        order."""

    def isPaused(task=None):
        """Whether the service (or ``task``) is paused."""

    def pausedTasks():
        """The names of the paused tasks, sorted."""

    def knownTasks():
        """The task names ``pause``, ``resume`` and ``setTaskLimit``
        accept, sorted: the registered tasks, and those the service knows
        without them (tasks of its jobs, paused or limited ones; an
        operator command that does not load the application names
        those)."""

    def setTaskLimit(task, maxRunning=None, perMinute=None):
        """At most ``maxRunning`` jobs of ``task`` run at once (strict,
        across processes) and at most ``perMinute`` start in any minute;
        None: no limit (both None: the limit is removed).  A job held
        back is not failed and counts no attempt.  ValueError for a
        negative or non-integer limit, UnknownTaskError for a task that
        is neither registered nor known to the service (knownTasks)."""

    def getTaskLimits(now=None):
        """task -> {'maxRunning', 'perMinute', 'running',
        'startedLastMinute', 'held'} for the tasks that have limits."""

    def getWaitReason(jobid, now=None):
        """A sentence saying why the job waits, e.g. "waits for job 123
        (processing)", "waits for 3 jobs tagged 'reindex'", "not before
        2026-12-01 12:00:00 UTC", "serialized behind job 456 (tag
        'order-7')", "task 'mail' is paused"; None when it does not
        wait (it runs or finished)."""

    def getWaitChain(jobid, now=None):
        """(id, task, status, wait reason) of the job and of the jobs it
        waits for, one behind the other, down to one that does not wait
        for another job (at most 20)."""

    def getDependents(jobid):
        """The ids of the blocked jobs that watch this job (those that
        are released or re-checked when it ends)."""

    def countActivities():
        """Job counts by task, status, priority and worker (the worker
        only for ``processing``), as dicts with those keys and
        ``count``; completed jobs are left out.  Scans the jobs of each
        status (up to 50,000; beyond, the rest are counted by task with
        priority None): for operators, not for claims."""

    def countByPriority():
        """priority -> how many jobs wait (not running or completed)."""


class IWorkflows(zope.interface.Interface):
    """Groups of jobs with a callback (fan-out / fan-in with results)."""

    def addGroup(jobs, then=None, tag=None, onFailure='wait', now=None):
        """Add the jobs of a group (``(task, input)`` pairs or dicts of
        ``add()`` keywords with ``task``), tagged ``tag`` if given, and
        return the group's id.  ``then`` (``(task, input)`` or ``(task,
        input, options)``): a callback job that runs once, after every
        member has finished, with a copy of its input (a dict or None)
        holding ``'results'``, the members' results in member order,
        and with ``onFailure='run'`` ``'errors'``, their error messages
        (None for those that succeeded).  ``onFailure``: 'wait' (a failed
        member keeps the callback waiting until it is retried to
        success), 'run' or 'cancel'.  ValueError for bad input; nothing
        is created then."""

    def getGroup(groupId):
        """The group: ``total``, ``done`` (finished members, failed ones
        included), ``failed``, ``status`` ('running', then 'completed'
        or 'failed'), ``results()`` and ``errors()`` in member order,
        ``jobIds`` and ``callbackId``.  KeyError for an unknown id."""

    def queryGroups(start=0, size=50):
        """``(total, groups)``: how many groups there are, and those from
        position ``start`` (0: the newest) on, at most ``size``, newest
        first (as ``getGroup`` returns them, with ``id`` and ``created``,
        epoch seconds or None for a group stored before 0.2's release).
        Loads only the groups of the page.  ValueError for a ``start`` or
        ``size`` that is not a whole number >= 0."""

    def cleanGroup(groupId):
        """Remove the jobs of a finished group, its members and then its
        callback, in transactions of their own of at most
        ``zodbtasks.service.BATCH_SIZE`` jobs (members removed already,
        by ``clean`` for instance, are skipped), then the group itself;
        return how many jobs were removed.  KeyError for an unknown id;
        ValueError, naming the group and its status, while a member that
        still exists has not finished (members deleted unfinished do not
        count) or while the callback waits or runs; PendingChangesError
        when the caller has changes it has not committed (as ``clean``)."""


class ITaskService(IReadTaskService, IWriteTaskService, IActivities,
                   IWorkflows, IContained):
    """A persistent service holding jobs and their queues (lovely names).

    Usually stored in a site's site manager (``sm['default'][name]``) and
    registered as a named utility providing ITaskService.
    """


# -- The internal processor protocol (see zodbtasks.protocol) -------------------

from zodbtasks.protocol import IJobDispatch  # noqa: E402,F401
from zodbtasks.protocol import IJobEnvironment  # noqa: E402,F401
from zodbtasks.protocol import IProcessor  # noqa: E402,F401
