"""Running jobs: one job in one transaction, one ``tick(now)``, and the
thread's ``run()`` loop.

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
- ``Processor`` is the daemon thread; it wakes on an Event set by an
  after-commit hook when a transaction in this process queued a job, and
  otherwise polls at the service's ``pollInterval``.
"""
import itertools
import logging
import random
import threading
import time
import traceback as traceback_module

import transaction
import zope.component.hooks
import zope.interface
from transaction.interfaces import TransientError

from zodbtasks import clock
from zodbtasks import interfaces
from zodbtasks import storage
from zodbtasks.job import check_picklable
from zodbtasks.task import TaskError
from zodbtasks.transactions import BACK_OFF  # noqa: F401 (old home)
from zodbtasks.transactions import CONFLICT_ATTEMPTS
from zodbtasks.transactions import in_transaction
from zodbtasks.transactions import with_back_off  # noqa: F401 (old home)
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

_registry = {}  # (id(db), oid) -> the list of running Processors
_alive = set()  # every Processor whose thread has not ended, stopping too
_registry_lock = threading.Lock()


def __getattr__(name):
    """``WORKER_ID``, for old code: this process's ``worker_id()``."""
    if name == 'WORKER_ID':
        return worker_id()
    raise AttributeError('module %r has no attribute %r' % (__name__, name))


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
            'clean() or cancelAll() on %r: they run in transactions of '
            'their own' % service)


# -- one job, one claim -----------------------------------------------------

def claim(service, tm, now, limit, owner=None):
    """Claim up to ``limit`` due jobs in a transaction of their own."""
    return in_transaction(tm, service.claimJobs, now, limit,
                          owner or worker_id(), attempts=CLAIM_ATTEMPTS)


def run_job(service, tm, jobid, now=None, owner=None, stop=None):
    """Run claimed job ``jobid``; its effects and status commit together.

    ``now`` stamps the run and reschedules cron jobs; when None, the clock
    is read at the start and at the end of the run.  When the storage goes
    away, it waits for it (until ``stop`` is set) and runs the job again
    unless its outcome committed (see ``run_through_outages``).
    """
    owner = owner or worker_id()
    try:
        run_through_outages(service, tm, jobid, now, owner, stop)
    except storage.CommitFailed as exc:
        logger.error('job %s: its commit failed', jobid, exc_info=exc)
        storage.reset_connection(service._p_jar)
        _record_failure(service, tm, jobid, now, str(exc),
                        traceback_module.format_exc())
    except TransientError as exc:
        logger.warning('job %s gave up after %d conflicting attempts: %s',
                       jobid, CONFLICT_ATTEMPTS, exc)
        _record_failure(service, tm, jobid, now, 'gave up after %d '
                        'conflicting attempts: %s' % (CONFLICT_ATTEMPTS, exc))
    except TaskError as exc:
        logger.warning('job %s failed: %s', jobid, exc)
        _record_failure(service, tm, jobid, now, str(exc),
                        traceback_module.format_exc())
    except Exception as exc:  # the per-job boundary
        logger.exception('job %s failed', jobid)
        _record_failure(service, tm, jobid, now,
                        '%s: %s' % (type(exc).__name__, exc),
                        traceback_module.format_exc())


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
    with zope.component.hooks.site(service.getSite()):
        output = task(service, jobid, job.input)
    if tm.get() is not txn:
        logger.warning('task %r of job %s committed or aborted the job\'s '
                       'transaction: its effects are not atomic with the '
                       'job\'s status', job.task, jobid)
    check_picklable(output, 'result of job %s (task %r)' % (jobid, job.task))
    service.finishJob(jobid, now if now is not None else clock.now(),
                      output=output)


def _record_failure(service, tm, jobid, now, message, traceback_text=None):
    in_transaction(tm, service.finishJob, jobid,
                   now if now is not None else clock.now(),
                   error=message, traceback=traceback_text)


def release(service, tm, jobids):
    """Give claimed jobs that did not run back to the queue."""
    if not jobids:
        return
    in_transaction(tm, _release_each, service, jobids)


def _release_each(service, jobids):
    for jobid in jobids:
        service.releaseJob(jobid)


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
        fold(service, tm, owner)
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


# -- waking processors after commit --------------------------------------------

def _key(service):
    return (id(service._p_jar.db()), service._p_oid)


def wake_after_commit(service):
    """Wake this process's processors of ``service`` once the current
    transaction commits (at most one hook per transaction and service)."""
    jar = service._p_jar
    if jar is None:
        return
    txn = jar.transaction_manager.get()
    try:
        txn.data(service)
    except KeyError:
        txn.set_data(service, True)
        txn.addAfterCommitHook(_wake_hook, (service,))


def _wake_hook(committed, service):
    if committed:
        for processor in _registry.get(_key(service), ()):
            processor.wake()


def fold(service, tm, owner):
    """Index what worker ``owner`` finished, in a transaction of its own."""
    in_transaction(tm, service.foldJobs, owner)


# -- the processor thread ----------------------------------------------------

def thread_name(service, number=0):
    """``zodbtasks.`` and the service's path segments joined by dots (and
    the thread's number after the first)."""
    names = ('zodbtasks',) + tuple(service.path)
    return '.'.join(names + ((str(number),) if number else ()))


@zope.interface.implementer(interfaces.IProcessor)
class Processor(threading.Thread):
    """See IProcessor.

    Besides the jobs, it keeps its worker alive: a heartbeat thread renews
    its lease every ``heartbeatInterval`` while jobs run, and every half
    lease it sweeps the jobs of workers that were lost.  It notices jobs
    committed by other processes from the database's last transaction id,
    which a ZEO client updates as invalidations arrive, checked every
    ``WATCH`` seconds between polls.
    """

    #: How often the loop checks whether the database changed (seconds).
    WATCH = 0.01

    def __init__(self, db, serviceOid, name, owner=None,
                 batch=CLAIM_BATCH):
        super().__init__(name=name, daemon=True)
        self.db = db
        self.serviceOid = serviceOid
        self.owner = owner or worker_id()
        self.leftovers = False
        self.batch = batch
        self._stop_event = threading.Event()
        self._wake_event = threading.Event()
        self._last_sweep = 0.0
        self.service = None
        self.tm = None
        self.heartbeat = Heartbeat(self)

    def start(self):
        """Start the thread and its heartbeat thread."""
        super().start()
        self.heartbeat.start()

    def wake(self):
        """See IProcessor."""
        self._wake_event.set()

    def stop(self):
        """See IProcessor."""
        self._stop_event.set()
        self._wake_event.set()

    @property
    def stopping(self):
        return self._stop_event.is_set()

    def tick(self, now=None):
        """See IProcessor."""
        if self.leftovers:
            self._release_leftovers()
        self._sweep_now_and_then(now)
        return drain(self.service, now=now, stop=self._stop_event,
                     tm=self.tm, owner=self.owner, batch=self.batch)

    def run(self):
        """See IProcessor."""
        self.tm = transaction.manager  # this thread's own manager
        connection = self.db.open(transaction_manager=self.tm)
        try:
            self.service = connection.get(self.serviceOid)
            while not self.stopping:
                self._wake_event.clear()
                self._iterate()
            self._retire()
        finally:
            self.heartbeat.stop()
            self.tm.abort()
            connection.close()
            _unregister(self)
            logger.info('processor %s stopped', self.name)

    def _iterate(self):
        # Design note: besides the per-job boundary in run_job, this is
        # the one other broad except: a storage that went away (a ZEO
        # restart) must not end the thread; it retries after a poll.
        # The last transaction is read before the tick: a commit that
        # lands after the tick's claim looked at the queue then still
        # counts as a change (read after the tick, it would be lost).
        last = self.db.lastTransaction()
        try:
            self.tick()
            timeout = self._wait_time(clock.now())
        except Exception as exc:
            self.tm.abort()
            timeout = self._recover(exc)
        self._wait(timeout, last)

    def _recover(self, exc):
        """Make the next tick safe after ``exc``; return how long to wait.

        A conflict: retry soon.  A storage that went away: wait for it,
        then give back what this worker claimed and is not running (a claim
        whose reply was lost committed jobs this worker does not know of;
        its record lists them).  Any other error: reset the connection (a
        failed commit may have detached cached objects, see
        ``zodbtasks.storage``) and give back the claimed jobs too.
        """
        if storage.is_unavailable(exc):
            self.leftovers = True
            storage.wait_for_storage(self.db, self.name, self._stop_event)
            return 0.0
        if storage.is_conflict(exc):
            logger.info('processor %s: claims conflicted (%s); trying '
                        'again', self.name, exc)
            return random.uniform(0.01, 0.05)
        logger.error('processor %s: tick failed', self.name, exc_info=exc)
        storage.reset_connection(self.service._p_jar)
        self.leftovers = True
        return 1.0

    def _release_leftovers(self):
        """Give back the jobs this worker claimed but is not running
        (between ticks it runs none), e.g. after the storage went away in
        the middle of a batch or during a claim's commit."""
        try:
            released = in_transaction(
                self.tm, self.service.releaseWorkerJobs, self.owner)
        except Exception as exc:  # the next tick tries again
            logger.warning('processor %s could not release its jobs: %s',
                           self.name, exc)
            return
        self.leftovers = False
        if released:
            logger.warning('processor %s released %d jobs it could not '
                           'run', self.name, released)

    def _wait(self, timeout, last):
        """Wait until woken, stopped, ``timeout`` passed or the database
        changed since ``last`` (another process committed)."""
        end = time.monotonic() + timeout
        while not self._wake_event.wait(min(self.WATCH, timeout)):
            if self.db.lastTransaction() != last \
                    or time.monotonic() >= end:
                return

    def _wait_time(self, now):
        self.tm.begin()
        timeout = self.service.pollInterval
        next_run = self.service.nextScheduledTime()
        self.tm.abort()
        if next_run is not None:
            timeout = min(timeout, max(next_run - now, 0.0))
        logger.debug('processor %s waits %.3fs', self.name, timeout)
        return timeout

    def _sweep_now_and_then(self, now):
        now = clock.now() if now is None else now
        if now - self._last_sweep < self.service.leaseTimeout / 2 \
                or storage.reconnected_within(self.db,
                                              self.service.leaseTimeout):
            return
        self._last_sweep = now
        lost = in_transaction(self.tm, self.service.sweep, now)
        if lost:
            logger.warning('processor %s: %d jobs of lost workers handled',
                           self.name, lost)

    def _retire(self):
        in_transaction(self.tm, self.service.retire, self.owner)


class Heartbeat(threading.Thread):
    """Renews a processor's lease while it runs jobs: every
    ``heartbeatInterval`` it records the time on the worker's record, in
    a connection and transaction of its own."""

    def __init__(self, processor):
        super().__init__(name=processor.name + '.heartbeat', daemon=True)
        self.processor = processor
        self._stop_event = threading.Event()

    def stop(self):
        self._stop_event.set()
        if self.is_alive():
            self.join(10.0)

    def run(self):
        tm = transaction.TransactionManager()
        connection = self.processor.db.open(transaction_manager=tm)
        try:
            service = connection.get(self.processor.serviceOid)
            while not self._stop_event.wait(service.heartbeatInterval):
                self.beat(service, tm)
        finally:
            tm.abort()
            connection.close()

    def beat(self, service, tm):
        owner = self.processor.owner
        try:
            in_transaction(tm, service.heartbeat, owner, clock.now(),
                           attempts=1)
        except (TransientError, storage.StorageUnavailable) as exc:
            logger.debug('heartbeat of %s missed (%s); the next one counts',
                         owner, exc)
        except Exception:  # a failed commit must not end the heartbeat
            logger.exception('heartbeat of %s failed', owner)
            storage.reset_connection(service._p_jar)


def start(service, threads=1):
    """Start ``threads`` processors of ``service`` in this process (none
    when they run already); return them.  Each is a worker of its own,
    ``worker_id()/<n>``.  Guards a ZEO client's object ids (see
    ``zodbtasks.storage.guard_database``)."""
    if service._p_jar is None or service._p_oid is None:
        raise ValueError('%r must be stored in a database and committed '
                         'before it can start processing' % service)
    storage.guard_database(service._p_jar.db())
    with _registry_lock:
        running = [p for p in _registry.get(_key(service), ())
                   if not p.stopping]
        if running:
            return running
        processors = [
            Processor(service._p_jar.db(), service._p_oid,
                      thread_name(service, number),
                      owner='%s/%d' % (worker_id(), number))
            for number in range(threads)]
        _registry[_key(service)] = processors
        for processor in processors:
            _alive.add(processor)
            processor.start()
    for processor in processors:
        logger.info('processor %s started', processor.name)
    return processors


def stop(service):
    """Ask ``service``'s processors to stop; return them."""
    if service._p_jar is None:
        return []
    with _registry_lock:
        processors = _registry.pop(_key(service), [])
    for processor in processors:
        processor.stop()
    return processors


def is_running(service):
    if service._p_jar is None:
        return False
    return any(p.is_alive() and not p.stopping
               for p in _registry.get(_key(service), ()))


def stop_all(timeout=10.0):
    """Stop every processor of this process and join them (those already
    stopping too)."""
    with _registry_lock:
        processors = list(_alive)
        _registry.clear()
    for processor in processors:
        processor.stop()
    for processor in processors:
        processor.join(timeout)
    return processors


def _unregister(processor):
    with _registry_lock:
        _alive.discard(processor)
        for key, processors in list(_registry.items()):
            if processor in processors:
                processors.remove(processor)
                if not processors:
                    del _registry[key]
