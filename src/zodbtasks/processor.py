"""Processor threads: the ``run()`` loop of one worker (its heartbeat
thread: ``zodbtasks.heartbeat``), and the registry of this process's
processors.

Three layers: ``zodbtasks.runner`` processes one job in one transaction;
``Processor.tick(now)`` is one iteration (sweep now and then, then drain
what is due); ``Processor.run()`` loops over ticks, waiting on an Event
that the wake-up channel (``zodbtasks.wakeup``) sets after a commit in
this process queued a job, or until the database's last transaction
changes (another process committed), or the poll interval passes.
"""
import logging
import random
import threading
import time

import transaction
import zope.interface

from zodbtasks import clock
from zodbtasks import folding
from zodbtasks import interfaces
from zodbtasks import retention
from zodbtasks import runner
from zodbtasks import storage
from zodbtasks import wakeup
from zodbtasks.dispatch import Dispatch
from zodbtasks.heartbeat import Heartbeat
from zodbtasks.transactions import abort_quietly
from zodbtasks.transactions import conflicts_of
from zodbtasks.transactions import in_transaction
from zodbtasks.workers import worker_id

logger = logging.getLogger(__name__)

_registry = {}  # (id(db), oid) -> the list of running Processors
_alive = set()  # every Processor whose thread has not ended, stopping too
_registry_lock = threading.Lock()


def __getattr__(name):
    # 0.1 had a WORKER_ID constant computed at import (wrong after fork).
    if name == 'WORKER_ID':
        return worker_id()
    raise AttributeError('module %r has no attribute %r' % (__name__, name))


def describe_conflicts(counts):
    """'conflicts: 3 (zodbtasks.trees.IdSet 2, ...)', most first, or 'no
    conflicts'."""
    total = sum(counts.values())
    if not total:
        return 'no conflicts'
    return 'conflicts: %d (%s)' % (total, ', '.join(
        '%s %d' % item for item in counts.most_common()))


def _key(service):
    return wakeup.key_of(service._p_jar.db(), service._p_oid)


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
                 batch=runner.CLAIM_BATCH):
        super().__init__(name=name, daemon=True)
        self.db = db
        self.serviceOid = serviceOid
        self.owner = owner or worker_id()
        #: Whether claimed jobs may be left over (after an outage or a
        #: failed tick): the next tick releases them first.
        self.leftovers = False
        self.batch = batch
        self._stop_event = threading.Event()
        self._wake_event = threading.Event()
        self._last_sweep = 0.0
        self._next_expiry = 0.0
        self._next_fold = 0.0
        #: When (time.monotonic()) the current drain began, or None: the
        #: heartbeat thread then indexes the deferred claims of long jobs.
        self.draining_since = None
        self.service = None
        self.tm = None
        self.heartbeat = Heartbeat(self)

    def start(self):
        """Start the thread and its heartbeat thread; commits in this
        process that queue jobs wake it (``zodbtasks.wakeup``)."""
        wakeup.subscribe(self.db, self.serviceOid, self.wake)
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

    def tick(self, now):
        """See IProcessor.  ``now`` decides whether to sweep; the runner
        stamps jobs with the clock at each step."""
        if self.leftovers:
            self._release_leftovers()
        self._sweep_now_and_then(now)
        self._expire_now_and_then(now)
        self._fold_now_and_then(now)
        self.draining_since = time.monotonic()
        try:
            return runner.drain(self.service, stop=self._stop_event,
                                tm=self.tm, owner=self.owner,
                                batch=self.batch, fold_at_end=False,
                                between=lambda: self._fold_now_and_then(
                                    clock.now()))
        finally:
            self.draining_since = None

    def run(self):
        """See IProcessor."""
        self.tm = transaction.manager  # this thread's own manager
        connection = self.db.open(transaction_manager=self.tm)
        try:
            self.service = connection.get(self.serviceOid)
            while not self.stopping:
                self._wake_event.clear()
                self._iterate()
            self.heartbeat.stop()  # no beat after the record is gone
            self._retire()
        finally:
            wakeup.unsubscribe(self.db, self.serviceOid, self.wake)
            self.heartbeat.stop()
            abort_quietly(self.tm)
            connection.close()
            _unregister(self)
            logger.info('processor %s stopped; %s', self.name,
                        describe_conflicts(conflicts_of(self.name)))

    def _iterate(self):
        # Design note: besides the per-job boundary in run_job, this is
        # the one other broad except: a storage that went away (a ZEO
        # restart) must not end the thread; it retries after a poll.
        # The last transaction is read before the tick: a commit that
        # lands after the tick's claim looked at the queue then still
        # counts as a change (read after the tick, it would be lost).
        try:
            last = self._last_transaction()
            self.tick(clock.now())
            timeout = self._wait_time(clock.now())
        except Exception as exc:
            abort_quietly(self.tm)
            last, timeout = None, self._recover(exc)
        self._wait(timeout, last)

    def _last_transaction(self):
        """The database's last transaction as this process knows it, or
        None when the storage cannot tell cheaply (RelStorage: the
        processor then looks for other processes' jobs every
        ``pollInterval``)."""
        if not storage.watches_commits(self.db):
            return None
        return self.db.lastTransaction()

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
            if not storage.can_wait(self.db):
                logger.warning('processor %s: the storage is unavailable '
                               '(%s); trying again', self.name, exc)
                return storage.OUTAGE_BACK_OFF_MAX
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
                self.tm, lambda: Dispatch(self.service).releaseWorkerJobs(
                    self.owner))
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
        if last is None:
            self._wake_event.wait(timeout)
            return
        end = time.monotonic() + timeout
        while not self._wake_event.wait(min(self.WATCH, timeout)):
            if self.db.lastTransaction() != last \
                    or time.monotonic() >= end:
                return

    def _wait_time(self, now):
        self.tm.begin()
        timeout = self.service.pollInterval
        next_run = self.service.nextScheduledTime()
        next_fold = Dispatch(self.service).nextFoldTime(self.owner, now)
        self.tm.abort()
        for when in (next_run, next_fold):
            if when is not None:
                timeout = min(timeout, max(when - now, 0.0))
        logger.debug('processor %s waits %.3fs', self.name, timeout)
        return timeout

    def _sweep_now_and_then(self, now):
        # No sweep within a lease of a reconnect: during a long outage no
        # worker could renew its heartbeat, and live ones would be lost.
        if now - self._last_sweep < self.service.leaseTimeout / 2 \
                or storage.reconnected_within(self.db,
                                              self.service.leaseTimeout):
            return
        self._last_sweep = now
        lost = in_transaction(self.tm, self.service.sweep, now)
        if lost:
            logger.warning('processor %s: %d jobs of lost workers handled',
                           self.name, lost)

    def _fold_now_and_then(self, now):
        """Every FOLD_INTERVAL, a transaction in which this worker folds
        for all if it holds the fold lease or may take it
        (``zodbtasks.folding``); it writes nothing otherwise."""
        if now < self._next_fold:
            return
        self._next_fold = now + folding.FOLD_INTERVAL
        in_transaction(self.tm, lambda: Dispatch(self.service).foldAll(
            self.owner, now))

    def _expire_now_and_then(self, now):
        """One bounded retention transaction (``zodbtasks.retention``) per
        tick while old finished jobs are left, then one every
        ``retention.INTERVAL`` (jittered, so that the workers of several
        processes seldom meet); jobs are claimed in between."""
        if now < self._next_expiry:
            return
        keep = retention.configured()
        more = False
        if keep:
            removed, more = in_transaction(
                self.tm, lambda: Dispatch(self.service).expireJobs(keep,
                                                                   now))
            if removed:
                logger.info('processor %s removed %d finished jobs past '
                            'their keep time', self.name, removed)
        self._next_expiry = now if more else \
            now + retention.INTERVAL * random.uniform(0.75, 1.25)

    def _retire(self):
        in_transaction(self.tm,
                       lambda: Dispatch(self.service).retire(self.owner))


def start(service, threads=1):
    """Start ``threads`` processors of ``service`` in this process (none
    when they run already); return them.  Each is a worker of its own,
    ``<process worker id>/<n>``.  Guards a ZEO client's object ids (see
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
