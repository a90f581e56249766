"""The per-job steps of processing, each a transaction of its own: claim
due jobs, run one job, release what did not run, fold what finished, and
``drain``, which repeats them until nothing is due.

- ``run_job`` runs one claimed job: the task's ZODB changes, the job's
  result and its final status commit together in one transaction, retried
  with back-off on ConflictError.  A failing task's changes are aborted and
  its error is recorded in a transaction of its own.
- ``claim`` takes due jobs in a short transaction of its own that writes
  the jobs (status, owner, attempts): two claimers of one job conflict and
  exactly one wins.  Claiming several jobs at once keeps a lone worker's
  cost close to one commit per job.
- ``drain`` claims and runs until nothing is due: ``process()`` calls it in
  the caller's thread, ``Processor.tick`` in the processor thread.

The in-transaction work is ``zodbtasks.dispatch.Dispatch``'s; this module
owns the transaction boundaries.  It starts no thread.
"""
import itertools
import logging
import time
import traceback as traceback_module

import transaction
import zope.component.hooks
from transaction.interfaces import TransientError

from zodbtasks import clock
from zodbtasks import groups
from zodbtasks import identity
from zodbtasks import interfaces
from zodbtasks import limits
from zodbtasks import storage
from zodbtasks.dispatch import Dispatch
from zodbtasks.interfaces import TaskError
from zodbtasks.job import check_picklable
from zodbtasks.transactions import CONFLICT_ATTEMPTS
from zodbtasks.transactions import in_transaction
from zodbtasks.workers import worker_id

logger = logging.getLogger(__name__)

#: Transactions tried per claim: claims of several workers meet on the
#: queue's head and the indexes, and losing one costs only a retry.
CLAIM_ATTEMPTS = 12
#: Jobs claimed per claim transaction while jobs are quick.
CLAIM_BATCH = 20
#: Jobs taking longer than this (seconds) are claimed one at a time, so a
#: claimed job never waits long behind others (and other workers get them).
QUICK_JOB = 0.05


class ResultTooLarge(TaskError):
    """A task returned a result above the service's ``maxInputSize``."""


def transaction_manager_of(service):
    """The transaction manager of the service's connection (the thread's
    own one when the service is not stored in a database)."""
    jar = service._p_jar
    return jar.transaction_manager if jar is not None else transaction.manager


def check_no_pending_changes(service):
    """Raise PendingChangesError when the service's connection holds
    changes that the caller has not committed."""
    jar = service._p_jar
    if jar is not None and getattr(jar, '_registered_objects', None):
        raise interfaces.PendingChangesError(
            'commit or abort your changes before calling process(), '
            'clean(), cancelAll() or rebuildIndex() on %r: they run in '
            'transactions of their own' % service)


def in_batches(service, step, statuses, batch_size):
    """Call ``step(statuses, batch_size)`` in transactions of their own
    until it does fewer than ``batch_size``; return the sum."""
    check_no_pending_changes(service)
    tm = transaction_manager_of(service)
    total = 0
    while True:
        done = in_transaction(tm, step, statuses, batch_size)
        total += done
        if done < batch_size:
            return total


# -- one claim, one job ---------------------------------------------------------

def claim(service, tm, now, limit, owner=None):
    """Claim up to ``limit`` due jobs in a transaction of their own."""
    return in_transaction(tm, lambda: Dispatch(service).claimJobs(
        now, limit, owner or worker_id()), attempts=CLAIM_ATTEMPTS)


def run_job(service, tm, jobid, now=None, owner=None, stop=None):
    """Run claimed job ``jobid``; its effects and status commit together.

    ``now`` stamps the run and reschedules cron jobs; when None, the clock
    is read at the start and at the end of the run.  When the storage goes
    away, it waits for it (until ``stop`` is set) and runs the job again
    unless its outcome committed (see ``run_through_outages``).
    """
    owner = owner or worker_id()
    try:
        _run_resetting_once(service, tm, jobid, now, owner, stop)
    except storage.CommitFailed as exc:
        logger.error('job %s: its commit failed again', jobid, exc_info=exc)
        storage.reset_connection(service._p_jar)
        _record_failure(service, tm, jobid, now, str(exc),
                        traceback_module.format_exc())
    except TransientError as exc:
        logger.warning('job %s gave up after %d conflicting attempts: %s',
                       jobid, CONFLICT_ATTEMPTS, exc)
        _record_failure(service, tm, jobid, now, 'gave up after %d '
                        'conflicting attempts: %s' % (CONFLICT_ATTEMPTS, exc))
    except interfaces.JobCancelled as exc:
        logger.info('job %s: %s', jobid, exc)
        _record_failure(service, tm, jobid, now, str(exc), cancelled=True)
    except TaskError as exc:
        logger.warning('job %s failed: %s', jobid, exc)
        _record_failure(service, tm, jobid, now, str(exc),
                        traceback_module.format_exc())
    except Exception as exc:  # the per-job boundary
        logger.exception('job %s failed', jobid)
        _record_failure(service, tm, jobid, now,
                        '%s: %s' % (type(exc).__name__, exc),
                        traceback_module.format_exc())


def _run_resetting_once(service, tm, jobid, now, owner, stop):
    """Run the job; when its commit failed for another reason than a
    conflict or an outage (which can leave detached objects in the
    connection's cache, see ``zodbtasks.storage``), reset the connection
    and run it once more: a second failure is the job's (CommitFailed)."""
    try:
        return run_through_outages(service, tm, jobid, now, owner, stop)
    except storage.CommitFailed as exc:
        logger.warning('job %s: its commit failed (%s); running it again '
                       'on a reset connection', jobid, exc)
        storage.reset_connection(service._p_jar)
    return run_through_outages(service, tm, jobid, now, owner, stop)


def run_through_outages(service, tm, jobid, now, owner, stop=None):
    """Run the job's transaction until it committed or the job is no
    longer ours; a storage outage is waited for, not counted.

    After an outage the outcome of the last commit is unknown (its reply
    may have been lost): ``_execute`` reads the job first and runs it only
    when it is still ``processing`` under ``owner``, so its effects commit
    once.  Raises StorageUnavailable when ``stop`` was set meanwhile.
    """
    for outage in itertools.count():
        try:
            return in_transaction(tm, _execute, service, tm, jobid, now,
                                  owner)
        except storage.StorageUnavailable as exc:
            if not storage.wait_for_storage(service._p_jar.db(), owner,
                                            stop):
                raise
            logger.info('job %s: the storage went away (%s); running it '
                        'again unless it committed', jobid, exc)
            _pause(outage, stop)


def _pause(number, stop):
    """Back off before the ``number``-th retry after an outage (the storage
    may say it is connected while commits still fail)."""
    seconds = min(storage.OUTAGE_BACK_OFF * 2 ** number,
                  storage.OUTAGE_BACK_OFF_MAX) if number else 0
    if seconds:
        (stop.wait if stop is not None else time.sleep)(seconds)


def _execute(service, tm, jobid, now, owner):
    job = service.jobs.get(jobid)
    if job is None or job.status != interfaces.PROCESSING \
            or job.owner != owner:
        return  # deleted, or taken over by a sweeper
    task = service.getTask(job.task)
    txn = tm.get()
    data = job.input if job.callbackOf is None \
        else groups.callback_input(service, job)
    with zope.component.hooks.site(service.getSite()), \
            identity.running_as(job.runAs):
        output = task(service, jobid, data)
    if tm.get() is not txn:
        logger.warning('task %r of job %s committed or aborted the job\'s '
                       'transaction: its effects are not atomic with the '
                       'job\'s status', job.task, jobid)
    limit = service.maxInputSize
    if not limits.surely_fits(output, limit):
        # The size first: it is measured in bounded memory, while the
        # check of what cannot be stored pickles the whole value.
        too_large = limits.result_too_large(output, limit)
        if too_large:
            raise ResultTooLarge(too_large)  # the task's effects abort
        check_picklable(output, 'result of job %s (task %r)'
                        % (jobid, job.task))
    Dispatch(service).finishJob(
        jobid, now if now is not None else clock.now(), output=output)


def _record_failure(service, tm, jobid, now, message, traceback_text=None,
                    cancelled=False):
    in_transaction(tm, lambda: Dispatch(service).finishJob(
        jobid, now if now is not None else clock.now(), error=message,
        traceback=traceback_text, cancelled=cancelled))


def release(service, tm, jobids):
    """Give claimed jobs that did not run back to the queue."""
    if jobids:
        in_transaction(tm, _release_each, service, jobids)


def _release_each(service, jobids):
    dispatch = Dispatch(service)
    for jobid in jobids:
        dispatch.releaseJob(jobid)


def fold(service, tm, owner, now=None):
    """Index what worker ``owner`` finished, and release what waited for
    it, in a transaction of its own."""
    in_transaction(tm, lambda: Dispatch(service).foldJobs(
        owner, now if now is not None else clock.now()))


# -- until nothing is due ----------------------------------------------------------

def drain(service, now=None, limit=None, stop=None, tm=None,
          owner=None, batch=CLAIM_BATCH):
    """Claim and run due jobs until none is due, ``limit`` ran, or ``stop``
    (an Event) is set; return how many ran.  Jobs claimed but not run
    because of ``stop`` are released; what ran is indexed at the end."""
    if tm is None:
        check_no_pending_changes(service)
        tm = transaction_manager_of(service)
    owner = owner or worker_id()
    done, size = 0, batch
    while limit is None or done < limit:
        if limit is not None:
            size = min(size, limit - done)
        jobids = claim(service, tm, now if now is not None else clock.now(),
                       size, owner)
        if not jobids:
            break
        began = time.perf_counter()
        ran = _run_claimed(service, tm, jobids, now, owner, stop)
        done += ran
        if ran < len(jobids):
            break  # stopped
        quick = time.perf_counter() - began <= QUICK_JOB * ran
        size = batch if quick else 1
    if done:
        fold(service, tm, owner, now)
    return done


def _run_claimed(service, tm, jobids, now, owner, stop):
    """Run the claimed jobs in order; release the rest when ``stop`` is
    set, or when running one failed beyond its own error handling (the
    storage went away), so that no claimed job waits for a sweeper while
    its worker lives.  Returns how many ran."""
    index = 0
    try:
        for index, jobid in enumerate(jobids):
            if stop is not None and stop.is_set():
                break
            run_job(service, tm, jobid, now, owner, stop=stop)
        else:
            return len(jobids)
    except BaseException:
        # The job at index did not commit its outcome: it goes back too.
        tm.abort()
        _release_quietly(service, tm, jobids[index:])
        raise
    release(service, tm, jobids[index:])
    return index


def _release_quietly(service, tm, jobids):
    """Release ``jobids`` if the storage lets us (best effort, while an
    error is already on its way up)."""
    try:
        release(service, tm, jobids)
    except Exception:  # the error being raised matters more
        logger.exception('could not release jobs %s', jobids)
