"""The per-job steps of processing, each a transaction of its own: claim
due jobs, run one job, release what did not run, fold what finished, and
``drain``, which repeats them until nothing is due.

- ``run_job`` runs one claimed job: the task's ZODB changes, the job's
  result and its final status commit together in one transaction, retried
  with back-off on ConflictError.  A failing task's changes are aborted and
  its error is recorded in a transaction of its own.
- ``run_group`` runs claimed jobs of a grouping task (IBatchTask) in one
  transaction, a savepoint per job (``zodbtasks.grouping``); on
  conflicts it tries again, then halves the group down to single jobs.
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

from transaction.interfaces import TransientError

from zodbtasks import clock
from zodbtasks import grouping
from zodbtasks import groups
from zodbtasks import interfaces
from zodbtasks import limits
from zodbtasks import storage
from zodbtasks.dispatch import Dispatch
from zodbtasks.interfaces import TaskError
from zodbtasks.transactions import CONFLICT_ATTEMPTS
from zodbtasks.transactions import in_transaction
from zodbtasks.transactions import transaction_manager_of
from zodbtasks.workers import worker_id

logger = logging.getLogger(__name__)

#: Transactions tried per claim: claims of several workers meet on the
#: queue's head and the indexes, and losing one costs only a retry.
CLAIM_ATTEMPTS = 12
#: A claim that lost a conflict tries again soon (seconds: the first pause
#: and the longest, jittered): it redoes no job's work, and a worker that
#: waits long leaves its finished jobs out of the counts meanwhile.
CLAIM_BACK_OFF = (0.002, 0.05)
#: Jobs claimed per claim transaction while jobs are quick.
CLAIM_BATCH = 20
#: Jobs taking longer than this (seconds) are claimed one at a time, so a
#: claimed job never waits long behind others (and other workers get them).
QUICK_JOB = 0.05


ResultTooLarge = limits.ResultTooLarge  # its home until 0.2


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

def claim(service, tm, now, limit, owner=None, most=None):
    """Claim up to ``limit`` due jobs (up to ``most`` to fill a group of
    a grouping task) in a transaction of their own; ``now`` None: the
    clock, read at each attempt (a claim retried after conflicts must not
    stamp its jobs with the time of its first attempt)."""
    return in_transaction(tm, lambda: Dispatch(service).claimJobs(
        now if now is not None else clock.now(), limit,
        owner or worker_id(), most), attempts=CLAIM_ATTEMPTS,
        back_off=CLAIM_BACK_OFF)


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
    return _through_outages(service, tm, owner, stop, 'job %s' % jobid,
                            CONFLICT_ATTEMPTS, _execute, service, tm, jobid,
                            now, owner)


def _through_outages(service, tm, owner, stop, what, attempts, func, *args):
    """``in_transaction(tm, func, *args)`` until it committed; after an
    outage ``func`` must itself leave out what committed."""
    for outage in itertools.count():
        try:
            return in_transaction(tm, func, *args, attempts=attempts)
        except storage.StorageUnavailable as exc:
            if not storage.wait_for_storage(service._p_jar.db(), owner,
                                            stop):
                raise
            logger.info('%s: the storage went away (%s); running it '
                        'again unless it committed', what, exc)
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
    with service.jobEnvironment(job) as bound:
        output = task(bound, jobid, data)
    if tm.get() is not txn:
        logger.warning('task %r of job %s committed or aborted the job\'s '
                       'transaction: its effects are not atomic with the '
                       'job\'s status', job.task, jobid)
    limits.check_result(output, service.maxInputSize,  # or effects abort
                        'result of job %s (task %r)' % (jobid, job.task))
    Dispatch(service).finishJob(
        jobid, now if now is not None else clock.now(), output=output)


def _record_failure(service, tm, jobid, now, message, traceback_text=None,
                    cancelled=False):
    in_transaction(tm, lambda: Dispatch(service).finishJob(
        jobid, now if now is not None else clock.now(), error=message,
        traceback=traceback_text, cancelled=cancelled))


# -- one group of a grouping task -------------------------------------------

#: Transactions tried per group before it is halved.
GROUP_ATTEMPTS = 2


def run_group(service, tm, jobids, now=None, owner=None, stop=None):
    """Run claimed jobs ``jobids`` of one grouping task (see
    ``zodbtasks.grouping``) in one transaction: their effects and
    statuses commit together.  On conflicts the group is tried again,
    then halved, down to single jobs, whose failures are recorded as
    ``run_job`` records them; so is a commit that failed otherwise, or a
    data manager that cannot take savepoints."""
    owner = owner or worker_id()
    single = len(jobids) == 1
    try:
        _through_outages(service, tm, owner, stop,
                         'group of %d jobs' % len(jobids),
                         CONFLICT_ATTEMPTS if single else GROUP_ATTEMPTS,
                         _execute_group, service, tm, jobids, now, owner)
        return
    except TransientError as exc:
        if single:
            logger.warning('job %s gave up after %d conflicting attempts: '
                           '%s', jobids[0], CONFLICT_ATTEMPTS, exc)
            _record_failure(service, tm, jobids[0], now, 'gave up after %d '
                            'conflicting attempts: %s'
                            % (CONFLICT_ATTEMPTS, exc))
            return
        reason = 'conflicted %d times' % GROUP_ATTEMPTS
    except storage.CommitFailed as exc:
        storage.reset_connection(service._p_jar)
        if single:
            logger.error('job %s: its commit failed', jobids[0],
                         exc_info=exc)
            _record_failure(service, tm, jobids[0], now, str(exc),
                            traceback_module.format_exc())
            return
        reason = 'could not commit (%s)' % exc
    except storage.StorageUnavailable:
        raise  # stopped while the storage was away: drain releases them
    except Exception as exc:  # the per-group boundary (as in run_job)
        if single:
            logger.exception('job %s failed', jobids[0])
            _record_failure(service, tm, jobids[0], now,
                            *grouping.error_of(exc))
            return
        reason = 'failed (%s: %s)' % (type(exc).__name__, exc)
    half = len(jobids) // 2
    logger.info('a group of %d jobs %s; running it in halves',
                len(jobids), reason)
    for part in (jobids[:half], jobids[half:]):
        if stop is not None and stop.is_set():
            release(service, tm, part)
        else:
            run_group(service, tm, part, now, owner, stop)


def _execute_group(service, tm, jobids, now, owner):
    dispatch = Dispatch(service)
    outcomes = grouping.execute_group(service, tm, jobids, owner)
    stamp = now if now is not None else clock.now()
    for job, output, exc in outcomes:
        if exc is None:
            dispatch.finishJob(job.id, stamp, output=output)
            continue
        message, text = grouping.error_of(exc)
        cancelled = isinstance(exc, interfaces.JobCancelled)
        (logger.info if cancelled else logger.warning)(
            'job %s failed in its group: %s', job.id, message)
        dispatch.finishJob(job.id, stamp, error=message, traceback=text,
                           cancelled=cancelled)


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
          owner=None, batch=CLAIM_BATCH, fold_at_end=True, between=None):
    """Claim and run due jobs until none is due, ``limit`` ran, or ``stop``
    (an Event) is set; return how many ran.  Jobs claimed but not run
    because of ``stop`` are released; what ran is indexed at the end
    (with ``fold_at_end``; a processor thread leaves that to its next
    claims, see ``zodbtasks.folding``).  ``between()`` is called after
    each batch (the processor folds for all there, now and then)."""
    if tm is None:
        check_no_pending_changes(service)
        tm = transaction_manager_of(service)
    owner = owner or worker_id()
    done, size = 0, batch
    while limit is None or done < limit:
        if limit is not None:
            size = min(size, limit - done)
        jobids = claim(service, tm, now, size, owner,
                       most=None if limit is None else limit - done)
        if not jobids:
            break
        began = time.perf_counter()
        ran = _run_claimed(service, tm, jobids, now, owner, stop)
        done += ran
        if ran < len(jobids):
            break  # stopped
        quick = time.perf_counter() - began <= QUICK_JOB * ran
        size = batch if quick else 1
        if between is not None:
            between()
    if done and fold_at_end:
        fold(service, tm, owner, now)
    return done


def _run_claimed(service, tm, jobids, now, owner, stop):
    """Run the claimed jobs, each alone or in its group (see
    ``zodbtasks.grouping.units``); release the rest when ``stop`` is set,
    or when running one failed beyond its own error handling (the
    storage went away), so that no claimed job waits for a sweeper while
    its worker lives.  Returns how many ran."""
    units = grouping.units(service, jobids)
    ran = index = 0
    try:
        for index, unit in enumerate(units):
            if stop is not None and stop.is_set():
                break
            if unit.batch:
                run_group(service, tm, unit.ids, now, owner, stop=stop)
            else:
                run_job(service, tm, unit.ids[0], now, owner, stop=stop)
            ran += len(unit.ids)
        else:
            return ran
    except BaseException:
        # The unit at index did not commit its outcome: it goes back too.
        tm.abort()
        _release_quietly(service, tm, _ids(units[index:]))
        raise
    release(service, tm, _ids(units[index:]))
    return ran


def _ids(units):
    return [jobid for unit in units for jobid in unit.ids]


def _release_quietly(service, tm, jobids):
    """Release ``jobids`` if the storage lets us (best effort, while an
    error is already on its way up)."""
    try:
        release(service, tm, jobids)
    except Exception:  # the error being raised matters more
        logger.exception('could not release jobs %s', jobids)
