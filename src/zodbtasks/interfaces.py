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

#: Every status a job can have, in the order the UI lists them.
STATUSES = (QUEUED, PROCESSING, COMPLETED, ERROR, CANCELLED, DELAYED,
            CRONJOB, STARTLATER)
#: Statuses of jobs that will not run again; ``clean()`` removes them.
FINISHED = (CANCELLED, ERROR, COMPLETED)


# -- Exceptions callers handle -------------------------------------------------

class ScheduleError(ValueError):
    """A cron spec, cron string, delay or time zone is invalid.

    The message names the field and the offending value, e.g.
    ``minute: 60 is out of range 0-59``.
    """


class UnknownTaskError(LookupError):
    """No `ITask` utility of that name is visible from the service's site.

    Raised by ``add`` and ``addCronJob``; no job is created.
    """


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
    owner = zope.schema.TextLine(
        title='Owner', description='Id of the worker running it, or None.',
        required=False)


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

class ITaskService(IContained):
    """A persistent service holding jobs and their queues (lovely names).

    Usually stored in a site's site manager (``sm['default'][name]``) and
    registered as a named utility providing ITaskService.
    """

    jobs = zope.interface.Attribute(
        'A BTree mapping job id (int) to job; read it, do not change it.')

    pollInterval = zope.schema.Float(
        title='Poll interval (seconds)',
        description='How often the processor looks for due jobs when '
        'nothing wakes it up.', default=1.0, min=0.01)

    def getAvailableTasks():
        """A dict name -> task of the ITask utilities visible from the
        service's site (local ones and global ones)."""

    def add(task, input=None, startLater=False, retryPolicy=None):
        """Add a job running the task named ``task`` and return its id.

        The job is ``queued`` (or ``startlater`` with ``startLater=True``,
        until ``startJob``).  ``retryPolicy`` (a zodbtasks.job.RetryPolicy)
        says how it is retried when its worker is lost or, if asked, when
        its task fails.  Raises UnknownTaskError for a task name that is
        not registered and InputError for an input that cannot be pickled;
        no job is created then.
        """

    def addCronJob(task, input=None, minute=(), hour=(), dayOfMonth=(),
                   month=(), dayOfWeek=(), delay=None, cron=None,
                   timezone=None):
        """Add a cron job (status ``cronjob``) or, with ``delay``, a delayed
        job (status ``delayed``) and return its id.

        The schedule is validated now (ScheduleError; see ICronJob, and
        no schedule at all means every minute); its first run is computed
        from the processor's ``now`` when a processor first sees the job.
        Raises UnknownTaskError and InputError as ``add`` does.
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

    def startJob(jobid):
        """Queue a ``startlater`` job; return whether it was queued."""

    def cancel(jobid):
        """Cancel a queued, delayed, cron or startlater job so that it never
        runs; return whether it was cancelled.  Running and finished jobs
        are left as they are.  Never scans all jobs."""

    def cancelAll():
        """Cancel every job that has not started, in bounded transactions of
        its own (see PendingChangesError); return how many were cancelled.
        """

    def reschedule(jobid):
        """Make a cron job's changed schedule take effect: the next run is
        computed afresh from the processor's next ``now``."""

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

    def retry(jobid):
        """Queue a failed or cancelled job again (its error is cleared);
        return whether it was queued."""

    def delete(jobid):
        """Remove a job that is not running (cancelling it first if it
        waits); return whether it was removed."""

    def countByStatus():
        """A dict status -> number of jobs, for every status (no job is
        loaded)."""

    def countByTask():
        """A dict task name -> number of jobs."""

    def jobIdsByStatus(status):
        """The ids of the jobs having ``status``, oldest first, as a lazy
        sequence (iterating and slicing load only what they use)."""

    def queryJobs(status=None, task=None, sortOn='id', reverse=True,
                  start=0, size=50):
        """``(total, jobs)``: how many jobs match ``status`` and ``task``
        (None: any), and the page ``start:start+size`` of them sorted on
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

    def clean(status=FINISHED):
        """Remove the jobs having one of the statuses, in bounded
        transactions of its own (see PendingChangesError); return how many
        were removed."""

    def process(now=None):
        """Run every job due at ``now`` in the calling thread, each in a
        transaction of its own (see PendingChangesError); return how many
        ran.  Afterwards the caller's connection sees the results."""

    def processNext(now=None):
        """Run at most one due job as ``process`` does; return whether one
        ran."""

    leaseTimeout = zope.schema.Float(
        title='Lease timeout (seconds)',
        description='A worker that sent no heartbeat for this long is '
        'lost; its running jobs are retried or fail.', default=60.0,
        min=1.0)

    def workers(now=None):
        """The workers that claimed jobs of this service: a list of dicts
        with ``id``, ``heartbeat``, ``started``, ``running`` (job ids)
        and ``alive`` (heartbeat within ``leaseTimeout`` of ``now``)."""

    def stuckJobs(now=None):
        """The jobs claimed by workers that are no longer alive."""

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

    def isProcessing():
        """Whether this service's processor thread runs in this process."""


# -- Processors -----------------------------------------------------------------

class IProcessor(zope.interface.Interface):
    """Runs the jobs of one task service in a daemon thread.

    Three layers: ``runJob`` processes one claimed job in one transaction;
    ``tick(now)`` claims and runs what is due; ``run()`` loops over ticks,
    waiting on an Event between them.
    """

    name = zope.schema.TextLine(title='Thread name')
    serviceOid = zope.interface.Attribute("The service's persistent oid.")

    def tick(now):
        """Claim and run every job due at ``now``; return how many ran."""

    def run():
        """The thread's loop: tick, then wait until woken or the poll
        interval or the next scheduled run comes; until stopped."""

    def wake():
        """Make the loop tick at once (called after a commit added jobs)."""

    def stop():
        """Ask the loop to end after the current job; returns at once."""


class IJobDispatch(zope.interface.Interface):
    """What processors call on a task service, each inside a transaction
    the processor owns.  Applications use ITaskService instead."""

    def getTask(name):
        """The ITask utility named ``name`` as seen from the service's site;
        UnknownTaskError when there is none."""

    def claimJobs(now, limit, owner):
        """Claim up to ``limit`` jobs due at ``now`` for worker ``owner``
        and return their ids.

        Due scheduled jobs come first, then the queue in order.  A claimed
        job has status ``processing``, its ``owner`` set and ``attempts``
        incremented; cron jobs no processor saw yet are scheduled from
        ``now`` instead of being claimed.  Two transactions claiming the
        same job conflict, so exactly one of them wins.
        """

    def finishJob(jobid, now, output=None, error=None, traceback=None):
        """Record the end of a claimed job's run at ``now``: its output, or
        its error message and traceback.  A cron job is rescheduled from
        ``now``; other jobs become ``completed`` or ``error`` (or are
        retried as their retry policy says).  Writes only the job and its
        worker's record: the indexes follow at the worker's next claim or
        ``foldJobs``.  Returns False (and changes nothing) when the job is
        not processing."""

    def foldJobs(owner):
        """Index the jobs worker ``owner`` finished since its last claim;
        return how many."""

    def heartbeat(owner, now):
        """Record that worker ``owner`` is alive at ``now``."""

    def retire(owner):
        """Forget worker ``owner`` (folding what it finished) unless it
        still has running jobs; return whether it was forgotten."""

    def setProgress(jobid, fraction, message=None):
        """Record the progress of a running job (see reportProgress)."""

    def releaseJob(jobid):
        """Give a claimed job that did not run back to the queue (or the
        schedule) where it was; return whether it was processing."""

    def releaseWorkerJobs(owner):
        """Release every job worker ``owner`` claimed and is not running
        any more (a worker calls it between jobs, after an error); return
        how many."""

    def nextScheduledTime():
        """The earliest scheduled run (epoch seconds), or None."""
