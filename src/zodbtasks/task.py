"""Tasks: ``SimpleTask`` wraps a function; ``TaskError`` is what a task
raises for an expected failure; ``reportProgress`` tells operators how far
a running task got; ``checkpoint`` lets a running task be cancelled or
stopped at its time limit."""
import logging

import zope.interface
from transaction.interfaces import TransientError

from zodbtasks import cancels
from zodbtasks import clock
from zodbtasks import grouping
from zodbtasks import interfaces
from zodbtasks.dispatch import Dispatch
from zodbtasks.transactions import own_connection
from zodbtasks.transactions import transaction_manager_of

logger = logging.getLogger(__name__)


TaskError = interfaces.TaskError  # its home until 0.1; both names work
JobCancelled = interfaces.JobCancelled
TimeLimitExceeded = interfaces.TimeLimitExceeded


@zope.interface.implementer(interfaces.ITask)
class SimpleTask:
    """An ITask calling ``func(input)``.

    With ``groupSize`` (1 to MAX_GROUP_SIZE) it is an IBatchTask: up to
    ``groupSize`` claimed jobs run in one transaction, ``func(input)``
    for each in a savepoint of its own, so a job whose call raises is
    rolled back alone and ends ``error`` while the others commit."""

    groupSize = None

    def __init__(self, func, groupSize=None):
        self.func = func
        if groupSize is not None:
            self.groupSize = grouping.check_group_size(groupSize)
            zope.interface.alsoProvides(self, interfaces.IBatchTask)

    def __repr__(self):
        return '<%s %s>' % (self.__class__.__name__,
                            getattr(self.func, '__qualname__', self.func))

    def __call__(self, service, jobid, input):
        return self.func(input)

    def runBatch(self, service, jobs):
        """See IBatchTask: ``func(job.input)`` per job, each in a
        savepoint of its own and with its own time limit."""
        txn = transaction_manager_of(service).get()
        outputs = []
        for job in jobs:
            point = grouping.savepoint(txn)
            try:
                with cancels.running_from(job.id, clock.now()):
                    outputs.append(self.func(job.input))
            except Exception as exc:
                if grouping.passes(exc):
                    raise
                point.rollback()
                outputs.append(exc)
        return outputs


def reportProgress(service, jobid, fraction, message=None):
    """Record that job ``jobid`` of ``service`` is ``fraction`` (0.0 to 1.0)
    done, with an optional short message, for the operators' UI.

    Call it from a running task.  The report commits at once in a
    transaction of its own (a connection of its own with its own
    transaction manager), so it is visible while the job still runs and
    never conflicts with the job's transaction.  A report that conflicts
    with another is dropped (a later one replaces it anyway).
    """
    if not 0.0 <= fraction <= 1.0:
        raise ValueError('progress must be between 0.0 and 1.0, not %r'
                         % (fraction,))
    checkpoint(service, jobid)
    progress = (float(fraction), None if message is None else str(message))
    jar = service._p_jar
    if jar is None:
        Dispatch(service).setProgress(jobid, *progress)
        return
    with own_connection(jar.db()) as (connection, tm):
        try:
            with tm:
                Dispatch(connection.get(service._p_oid)).setProgress(
                    jobid, *progress)
        except TransientError:
            logger.debug('progress report of job %s dropped (conflict)',
                         jobid)


def checkpoint(service, jobid, now=None):
    """Call it from a running task now and then: it raises JobCancelled
    once ``cancel(jobid)`` was asked (the job's transaction is then
    aborted and the job ends ``cancelled``), and TimeLimitExceeded once
    the job ran longer than its ``timeLimit`` (or its task's) at ``now``
    (default: the clock).  Cheap: it looks for a cancel request at most
    every ``zodbtasks.cancels.CHECK_INTERVAL`` seconds, in a connection
    of its own (the task's own cannot see what was committed after its
    transaction began).  ``reportProgress`` calls it too."""
    job = service.jobs.get(jobid)
    if job is None or job.status != interfaces.PROCESSING:
        return
    who = cancels.requested(service, jobid)
    if who is not None:
        raise JobCancelled('cancelled while running by %s' % who)
    task = service.getSiteManager().queryUtility(service.taskInterface,
                                                 job.task)
    now = clock.now() if now is None else now
    if cancels.over_time_limit(job, task, now):
        raise TimeLimitExceeded('time limit of %g s exceeded'
                                % cancels.time_limit(job, task))
