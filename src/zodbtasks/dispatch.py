"""What processors do to a task service: claim jobs, finish them, fold
finished jobs into the indexes, send heartbeats, sweep for lost workers.

Every method runs inside a transaction that the processor owns (see
``zodbtasks.processor``); none of them commits.

Design note: the per-job transaction writes only the job, so the jobs of
different workers never conflict; the worker's own record
(``zodbtasks.workers``) lists what it claimed, and the shared indexes
(status sets, counts, time indexes) catch up in the worker's next claim
transaction, which claims up to a batch of jobs at once: a claimed job
whose status is no longer ``processing`` has finished.  Updating the
indexes in every job's transaction cost about eight object writes per job
and capped throughput at a third of the raw commit rate.
"""
import datetime
import logging

import zope.interface
from BTrees.OOBTree import OOBTree

from zodbtasks import clock
from zodbtasks import interfaces
from zodbtasks import processor
from zodbtasks.interfaces import CANCELLED
from zodbtasks.interfaces import COMPLETED
from zodbtasks.interfaces import CRONJOB
from zodbtasks.interfaces import DELAYED
from zodbtasks.interfaces import ERROR
from zodbtasks.interfaces import PROCESSING
from zodbtasks.interfaces import QUEUED
from zodbtasks.job import CronJob
from zodbtasks.workers import WorkerRecord

logger = logging.getLogger(__name__)

#: Largest job id, for open-ended ranges of (time, id) schedule keys.
MAX_ID = 2 ** 63 - 1


@zope.interface.implementer(interfaces.IJobDispatch)
class JobDispatch:
    """The IJobDispatch half of TaskService (a mixin: it uses the
    service's jobs, queue, schedule and index)."""

    leaseTimeout = 60.0

    @property
    def heartbeatInterval(self):
        """How often a worker renews its lease (a quarter of it)."""
        return self.leaseTimeout / 4.0

    # -- claiming ----------------------------------------------------------

    def claimJobs(self, now, limit, owner):
        """See IJobDispatch.

        Writes nothing when there is nothing to claim, fold or schedule
        and the worker's heartbeat is fresh: idle workers must not commit
        (each commit wakes the other processes' workers)."""
        record = self._workers.get(owner)
        if record is not None:
            self._fold(record)
            if now - record.heartbeat >= self.heartbeatInterval / 2:
                record.heartbeat = now
        claimed = []
        due = list(self._schedule.keys(max=(now, MAX_ID)))[:limit]
        for key in due:
            job = self.jobs[self._schedule.pop(key)]
            self._claim(job, now, owner)
            claimed.append(job.id)
        while len(claimed) < limit and self._queue:
            job = self.jobs.get(self._queue.pull())
            if job is None:
                continue
            job.queueKey, position = None, job.queueKey
            if job.status in (CRONJOB, DELAYED):
                self._schedule_at(job, job.timeOfNextCall(now))
            elif job.status == QUEUED:
                self._claim(job, now, owner)
                job.releaseKey = position
                claimed.append(job.id)
        return claimed

    def _claim(self, job, now, owner):
        record = self._record(owner, now)
        index = self._index
        index.set_time(index.completed, job.id, job.completed, None)
        self._set_status(job, PROCESSING)
        job.owner = record.id
        job.attempts += 1
        job.leaseExpires = now + self.leaseTimeout
        job.scheduledFor = None
        index.set_time(index.started, job.id, job.started, now)
        job.started = now
        record.jobs.add(job.id)
        if job.id in self._progress:
            del self._progress[job.id]

    # -- finishing ---------------------------------------------------------

    def finishJob(self, jobid, now, output=None, error=None,
                  traceback=None):
        """See IJobDispatch."""
        job = self.jobs.get(jobid)
        if job is None or job.status != PROCESSING:
            return False
        job.completed = now
        job.output = output if error is None else None
        job.recordFailure(error, traceback)
        job.status = self._outcome(job, now, error)
        record = self._workers.get(job.owner)
        if record is None or jobid not in record.jobs:
            # swept meanwhile: nobody will fold it, index it at once
            self._index_finished(job)
        return True

    def _outcome(self, job, now, error):
        """The status after a run, scheduling what runs again."""
        if isinstance(job, CronJob):
            job.runs += 1
            if not job.isDelayed:
                if getattr(job, 'cancelRequested', False):
                    return CANCELLED
                self._schedule_at(job, job.timeOfNextCall(now))
                return CRONJOB
        if error is None:
            return COMPLETED
        policy = job.retryPolicy
        if policy.retryErrors and policy.mayRetry(job.attempts):
            self._schedule_at(job, now + policy.backOff(job.attempts))
            return QUEUED
        return ERROR

    def foldJobs(self, owner):
        """See IJobDispatch."""
        record = self._workers.get(owner)
        return self._fold(record) if record is not None else 0

    def _fold(self, record):
        """Index the jobs of ``record`` that finished; return how many."""
        finished = 0
        for jobid in list(record.jobs.keys()):
            job = self.jobs.get(jobid)
            if job is None:
                record.jobs.remove(jobid)
            elif job.status != PROCESSING or job.owner != record.id:
                record.jobs.remove(jobid)
                self._index_finished(job)
                finished += 1
        return finished

    def _index_finished(self, job):
        """Move a finished job from 'processing' to its status in the
        indexes, with its finish time."""
        self._index.move(job.id, PROCESSING, job.status)
        self._index_completed(job)

    def _index_completed(self, job):
        index = self._index
        index.set_time(index.completed, job.id, None, job.completed)

    def _settle(self, job):
        """Fold ``job`` now if it finished but its worker has not folded
        it yet (before changing it from outside a processor)."""
        record = self._workers.get(job.owner) if job.owner else None
        if record is not None and job.id in record.jobs \
                and job.status != PROCESSING:
            record.jobs.remove(job.id)
            self._index_finished(job)

    def releaseJob(self, jobid):
        """See IJobDispatch."""
        job = self.jobs.get(jobid)
        if job is None or job.status != PROCESSING:
            return False
        record = self._workers.get(job.owner)
        if record is not None and jobid in record.jobs:
            record.jobs.remove(jobid)
        job.attempts -= 1
        if isinstance(job, CronJob):
            self._set_status(job, DELAYED if job.isDelayed else CRONJOB)
            self._schedule_at(job, job.scheduledFor or job.started)
        else:
            self._set_status(job, QUEUED)
            job.queueKey = self._queue.put(job.id, key=job.releaseKey)
            processor.wake_after_commit(self)
        return True

    def releaseWorkerJobs(self, owner):
        """See IJobDispatch."""
        record = self._workers.get(owner)
        if record is None:
            return 0
        leftovers = self._running(record)
        for jobid in leftovers:
            self.releaseJob(jobid)
        return len(leftovers)

    # -- workers: heartbeats, leases and the sweeper -----------------------

    def heartbeat(self, owner, now):
        """See IJobDispatch."""
        self._record(owner, now).heartbeat = now

    def retire(self, owner):
        """See IJobDispatch."""
        record = self._workers.get(owner)
        if record is None:
            return False
        self._fold(record)
        if record.jobs:
            return False
        del self._workers[owner]
        return True

    def sweep(self, now=None):
        """See ITaskService."""
        now = clock.now() if now is None else now
        handled = 0
        for owner, record in list(self._workers.items()):
            if record.alive(now, self.leaseTimeout):
                continue
            self._fold(record)
            for jobid in list(record.jobs.keys()):
                self._lost(self.jobs[jobid], record, now)
                handled += 1
            del self._workers[owner]
        return handled

    def _lost(self, job, record, now):
        message = ('worker lost: %s stopped sending heartbeats at %s '
                   '(attempt %d of %d)' % (
                       record.id, _iso(record.heartbeat), job.attempts,
                       job.retryPolicy.maxAttempts))
        policy = job.retryPolicy
        job.recordFailure(message)
        logger.warning('job %s: %s', job.id, message)
        if isinstance(job, CronJob) and not job.isDelayed:
            self._set_status(job, CRONJOB)
            self._schedule_at(job, job.timeOfNextCall(now))
        elif policy.mayRetry(job.attempts):
            self._set_status(job, DELAYED if isinstance(job, CronJob)
                             else QUEUED)
            self._schedule_at(job, now + policy.backOff(job.attempts))
        else:
            if not policy.idempotent:
                job.recordFailure(message + '; not retried: the job is '
                                  'not idempotent')
            job.completed = now
            self._set_status(job, ERROR)
            self._index_completed(job)

    def workers(self, now=None):
        """See ITaskService."""
        now = clock.now() if now is None else now
        return [{'id': record.id, 'heartbeat': record.heartbeat,
                 'started': record.started,
                 'running': self._running(record),
                 'alive': record.alive(now, self.leaseTimeout)}
                for record in self._workers.values()]

    def _running(self, record):
        """The ids of the jobs ``record``'s worker is running."""
        return [jobid for jobid in record.jobs.keys()
                if jobid in self.jobs
                and self.jobs[jobid].status == PROCESSING
                and self.jobs[jobid].owner == record.id]

    def stuckJobs(self, now=None):
        """See ITaskService."""
        now = clock.now() if now is None else now
        stuck = []
        for record in self._workers.values():
            if not record.alive(now, self.leaseTimeout):
                stuck.extend(self.jobs[jobid]
                             for jobid in self._running(record))
        return stuck

    def _record(self, owner, now):
        if getattr(self, '_workers', None) is None:
            self._workers = OOBTree()
        record = self._workers.get(owner)
        if record is None:
            record = self._workers[owner] = WorkerRecord(owner, now)
        return record

    # -- progress and schedule -------------------------------------------

    def setProgress(self, jobid, fraction, message=None):
        """See IJobDispatch."""
        self._progress[jobid] = (fraction, message)

    def nextScheduledTime(self):
        """See IJobDispatch."""
        if not self._schedule:
            return None
        return self._schedule.minKey()[0]


def _iso(epoch):
    return datetime.datetime.fromtimestamp(
        epoch, datetime.timezone.utc).strftime('%Y-%m-%d %H:%M:%S UTC')
