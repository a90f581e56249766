"""What processors do to a task service inside their transactions: claim
jobs, finish them, fold finished jobs into the indexes, send heartbeats,
sweep for lost workers.

``Dispatch(service)`` implements IJobDispatch over the job-state layer
(``zodbtasks.jobmaps``); the runner (``zodbtasks.runner``) calls it in
transactions it owns, and nothing here commits.

Design note: the per-job transaction writes only the job, so the jobs of
different workers never conflict; the worker's own record
(``zodbtasks.workers``) lists what it claimed, and the shared indexes
(status sets, counts, time indexes) catch up in the worker's next claim
transaction, which claims up to a batch of jobs at once: a claimed job
whose status is no longer ``processing`` has finished.  Updating the
indexes in every job's transaction cost about eight object writes per job
and capped throughput at a third of the raw commit rate.
"""
import logging

import zope.interface

from zodbtasks import clock
from zodbtasks import interfaces
from zodbtasks import folding
from zodbtasks import retention
from zodbtasks import shards
from zodbtasks import stats
from zodbtasks.grouping import GroupSizes
from zodbtasks.interfaces import PROCESSING
from zodbtasks.interfaces import QUEUED
from zodbtasks.stats import FLUSH_INTERVAL
from zodbtasks.jobmaps import JobMaps

logger = logging.getLogger(__name__)


@zope.interface.implementer(interfaces.IJobDispatch)
class Dispatch:
    """See IJobDispatch."""

    def __init__(self, service):
        self.service = service
        self.maps = JobMaps(service)

    def getTask(self, name):
        """See IJobDispatch."""
        return self.service.getTask(name)

    def claimJobs(self, now, limit, owner, most=None):
        """See IJobDispatch.

        Writes nothing when there is nothing to claim, fold or schedule
        and the worker's heartbeat is fresh: idle workers must not commit
        (each commit wakes the other processes' workers).  A job of a
        grouping task raises the claim's size to its group size (up to
        ``most``; None: no bound) so that its group can fill up."""
        maps = self.maps
        record = maps.workers.get(owner)
        rank = maps.rank(owner, now)
        if record is not None:
            # prompt ends first (a lone worker folds its plain ones after
            # it claimed: _fold_plain)
            maps.fold(record, prompt_only=True)
            if now - record.heartbeat >= self.service.heartbeatInterval / 2:
                record.heartbeat = now
        maps.work(now)
        claimed = []
        if maps.holds.paused():
            if rank is None:
                self._fold_plain(owner, now, claimed)
            return claimed
        for key in maps.due(now, limit):
            job = maps.take_due(key, now)
            if job is not None:
                maps.claim(job, now, owner)
                claimed.append(job.id)
        sizes = GroupSizes(self.service)
        # A lone worker defers too while its jobs are quick (it claims
        # more than one at a time): its fold indexes claim and end at once.
        defer = rank is not None or limit > 1
        prefer = rank if maps.queue else None
        low = None
        if prefer is not None:
            maps.queue = shards.shard(self.service)
            low = maps.queue.front_key()
        if limit > 1 and maps.queue:
            self._prefetch(maps.queue.peek(prefer, limit))
        while len(claimed) < limit and maps.queue:
            job = maps.pull(now, prefer, low)
            if job is not None:
                maps.claim(job, now, owner, defer=defer)
                claimed.append(job.id)
                if maps.holds.ends_batch(job):
                    break
                size = sizes(job)
                if size is not None and size > limit:
                    limit = size if most is None else max(limit,
                                                          min(size, most))
        if rank is None:
            self._fold_plain(owner, now, claimed)
        self._flush_figures(owner, now, FLUSH_INTERVAL)
        return claimed

    def _flush_figures(self, owner, now, interval=0):
        """Write the figures worker ``owner`` noted (``zodbtasks.stats``),
        with a sample of the queue's depth."""
        maps = self.maps
        stats.flush(self.service, maps.workers.get(owner), owner, now,
                    lambda: maps.index.by_status.count(QUEUED), interval)

    def finishJob(self, jobid, now, output=None, error=None,
                  traceback=None, cancelled=False):
        """See IJobDispatch."""
        job = self.maps.jobs.get(jobid)
        if job is None or job.status != PROCESSING:
            return False
        self.maps.finish(job, now, output, error, traceback, cancelled)
        return True

    def _prefetch(self, ids):
        """Ask the storage for the jobs ``ids`` that are not loaded, in
        one go (ZEO pipelines them; other storages ignore it): a claim
        otherwise waits for one round trip per job it reads."""
        jar = self.service._p_jar
        if jar is None:
            return
        ghosts = [job for job in map(self.maps.jobs.get, ids)
                  if job is not None and job._p_changed is None]
        if ghosts:
            jar.prefetch(ghosts)

    def _fold_plain(self, owner, now, claimed):
        """A lone worker folds its plain ends when they are due (the
        claims it just made stay deferred)."""
        record = self.maps.workers.get(owner)
        if record is not None and folding.own_due(self.maps, record, now,
                                                  idle=not claimed):
            self.maps.fold(record, skip=set(claimed))

    def foldJobs(self, owner, now=None):
        """See IJobDispatch.  A worker that is not alone folds its prompt
        jobs only (the fold lease's holder folds the others, see
        ``foldAll``); ``now`` None: fold its whole record."""
        maps = self.maps
        record = maps.workers.get(owner)
        if record is None:
            return 0
        if now is None:
            return maps.fold(record)
        rank = maps.rank(owner, now)
        folded = maps.fold(record, prompt_only=rank is not None)
        maps.work(now)
        self._flush_figures(owner, now)
        return folded

    def foldAll(self, owner, now):
        """See IJobDispatch."""
        maps, service = self.maps, self.service
        if maps.rank(owner, now) is None \
                or not folding.take(service, owner, now) \
                or not folding.others_due(service, now):
            return 0
        records = list(maps.workers.items())
        self._prefetch([jobid for _, record in records
                        for jobid in folding.listed_ids(record)])
        waiting = [(key, record) for key, record in records
                   if folding.waiting_work(maps, record)]
        done = 0
        for key, record in waiting:
            done += len(folding.claims_of(record))
            done += maps.fold(record, owner_side=key == owner)
        if waiting:
            folding.folded_others(service, now)
            folding.renew(service, owner, now)
            maps.work(now)
        return done

    def nextFoldTime(self, owner, now):
        """See IJobDispatch."""
        return folding.next_fold(self.maps, owner, now)

    def releaseJob(self, jobid):
        """See IJobDispatch."""
        job = self.maps.jobs.get(jobid)
        if job is None or job.status != PROCESSING:
            return False
        self.maps.release(job)
        return True

    def releaseWorkerJobs(self, owner):
        """See IJobDispatch."""
        record = self.maps.workers.get(owner)
        if record is None:
            return 0
        leftovers = self.maps.running(record)
        for jobid in leftovers:
            self.releaseJob(jobid)
        return len(leftovers)

    def heartbeat(self, owner, now):
        """See IJobDispatch.

        Only a worker that has a record (it claimed jobs) is renewed: a
        heartbeat never makes one, so that a beat after the worker retired
        (or after a sweeper dropped it) leaves nothing behind."""
        record = self.maps.workers.get(owner)
        if record is None:
            return False
        record.heartbeat = now
        return True

    def indexRunning(self, owner, now):
        """See IJobDispatch."""
        maps = self.maps
        record = maps.workers.get(owner)
        if record is None:
            return 0
        long_ones = folding.running_claims(maps, record,
                                           now - folding.SHOW_RUNNING)
        for job in long_ones:
            folding.index_claim(maps, record, job)
        return len(long_ones)

    def retire(self, owner):
        """See IJobDispatch."""
        workers = self.maps.workers
        record = workers.get(owner)
        if record is None:
            return False
        self.maps.fold(record)
        if record.jobs:
            return False
        self._flush_figures(owner, None)
        stats.retired(self.service, record)
        del workers[owner]
        return True

    def sweep(self, now):
        """Handle the jobs of lost workers (see ITaskService.sweep)."""
        maps = self.maps
        handled = 0
        for owner, record in list(maps.workers.items()):
            if record.alive(now, self.service.leaseTimeout):
                continue
            maps.fold(record)
            for jobid in list(record.jobs.keys()):
                job = maps.jobs[jobid]
                message = ('worker lost: %s stopped sending heartbeats at '
                           '%s (attempt %d of %d)' % (
                               record.id, clock.format_utc(record.heartbeat)
                               + ' UTC', job.attempts,
                               job.retryPolicy.maxAttempts))
                logger.warning('job %s: %s', job.id, message)
                maps.lost(job, message, now)
                stats.lease_expired(self.service)
                handled += 1
            stats.retired(self.service, record)
            del maps.workers[owner]
        maps.work(now)
        return handled

    def expireJobs(self, keep, now, limit=None):
        """See IJobDispatch."""
        removed, more = retention.expire_some(
            self.maps, keep, now,
            retention.BATCH if limit is None else limit)
        if removed:
            self.service._release(self.maps, now)
        return removed, more

    def setProgress(self, jobid, fraction, message=None):
        """See IJobDispatch."""
        self.maps.progress[jobid] = (fraction, message)

    def nextScheduledTime(self):
        """See IJobDispatch."""
        return self.maps.next_scheduled_time()
