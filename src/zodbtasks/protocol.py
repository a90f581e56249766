"""The internal processor protocol: what the runtime (zodbtasks.processor,
zodbtasks.runner, zodbtasks.dispatch) relies on.  Applications use
ITaskService; these interfaces may change between releases.  Both are
importable from zodbtasks.interfaces too.
"""
import zope.interface
import zope.schema


class IProcessor(zope.interface.Interface):
    """Internal: runs the jobs of one task service in a daemon thread.

    Three layers: ``zodbtasks.runner.run_job`` processes one claimed job in
    one transaction; ``tick(now)`` claims and runs what is due; ``run()``
    loops over ticks, waiting on an Event between them.
    """

    name = zope.schema.TextLine(title='Thread name')
    serviceOid = zope.interface.Attribute("The service's persistent oid.")

    def tick(now):
        """Sweep for lost workers if it is time at ``now``, then claim and
        run every due job; return how many ran.  ``run()`` passes the
        clock's time."""

    def run():
        """The thread's loop: tick, then wait until woken or the poll
        interval or the next scheduled run comes; until stopped."""

    def wake():
        """Make the loop tick at once (called after a commit added jobs)."""

    def stop():
        """Ask the loop to end after the current job; returns at once."""


class IJobEnvironment(zope.interface.Interface):
    """Internal: who a job runs as and in which environment; a task
    service provides it.  The Zope Toolkit's (``zodbtasks.identity``)
    stores the principal's id and opens a zope.security interaction; the
    Zope product's (``zodbtasks.zope.environment``) also stores the user
    folder, the site and the request facts, and rebuilds a request and a
    security manager around the run."""

    def captureIdentity(runAs):
        """``(runAs, runContext)`` for a new job: ``runAs`` as ``add``
        takes it (CURRENT_PRINCIPAL, None or a principal id) turned into
        the id stored in ``IJob.runAs``, and the facts stored in
        ``IJob.runContext`` (None, or a tuple of ``(name, value)`` pairs
        of strings and tuples of strings)."""

    def jobEnvironment(job):
        """A context manager around the run of ``job`` (and of the jobs
        of its group, which share its runAs and runContext): sets the
        job's site and principal up and takes them down afterwards.  It
        yields the service as the task is to be called with.  Raises
        zodbtasks.identity.PrincipalGone (a TaskError) on entering when
        the principal no longer exists."""


class IJobDispatch(zope.interface.Interface):
    """Internal: what processors do to a task service, each call inside
    a transaction the processor owns (``zodbtasks.dispatch.Dispatch(service)``
    provides it).  Applications use ITaskService instead."""

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

    def finishJob(jobid, now, output=None, error=None, traceback=None,
                  cancelled=False):
        """Record the end of a claimed job's run at ``now``: its output, or
        its error message and traceback.  A cron job is rescheduled from
        ``now``; other jobs become ``completed`` or ``error`` (or are
        retried as their retry policy says).  Writes only the job and its
        worker's record: the indexes follow at the worker's next claim or
        ``foldJobs``.  With ``cancelled``, the job was cancelled while it
        ran: it ends ``cancelled`` with ``error`` as its reason.  Returns
        False (and changes nothing) when the job is not processing."""

    def foldJobs(owner, now=None):
        """Index the jobs worker ``owner`` finished since its last claim;
        return how many.  With ``now``, also release (up to a batch) the
        jobs that waited for them; then, when other workers are alive and
        another one holds the fold lease, only the jobs whose end must
        take effect at once are indexed (the holder indexes the others,
        see ``zodbtasks.folding``)."""

    def foldAll(owner, now):
        """As the holder of the fold lease (taken when free or expired):
        index the deferred claims and the plain ends of every worker, at
        most every FOLD_INTERVAL (``zodbtasks.folding``); return how many
        jobs it indexed.  Writes nothing when worker ``owner`` is alone,
        another worker holds the lease, or nothing waits."""

    def nextFoldTime(owner, now):
        """When worker ``owner`` should claim (or fold) again so that the
        indexes do not lag behind the jobs (epoch seconds), or None."""

    def heartbeat(owner, now):
        """Record that worker ``owner`` is alive at ``now``, when it has a
        record (it claimed jobs); return whether it had one."""

    def indexRunning(owner, now):
        """Index the deferred claims (``zodbtasks.folding``) of worker
        ``owner``'s jobs that have run for ``folding.SHOW_RUNNING``
        seconds or more at ``now``, so that a long job does not look
        queued in the lists; return how many.  Writes nothing when there
        are none."""

    def retire(owner):
        """Forget worker ``owner`` (folding what it finished) unless it
        still has running jobs; return whether it was forgotten."""

    def expireJobs(keep, now, limit=None):
        """Remove up to ``limit`` (default ``retention.BATCH``) finished
        jobs older than their status's
        keep time (``keep``: status -> seconds) at ``now``; cron jobs and
        unfolded jobs stay.  Returns ``(removed, more)``."""

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

    def sweep(now):
        """ITaskService.sweep at ``now``."""
