"""TaskService: the public API of a persistent task service (see
ITaskService); how jobs change is the job-state layer's business
(``zodbtasks.jobmaps``), how they run the runner's (``zodbtasks.runner``).

Storage layout (all writes per job touch a few small buckets, never the
service object itself, so concurrent writers rarely conflict):

- ``jobs``: JobTree (an LOBTree with small leaves) id -> job.  Ids grow
  with creation time (see ``zodbtasks.keys``), so newest-first is
  chronological.
- ``_queue``: ShardedQueue of the ids of queued jobs, and of cron jobs that
  no processor has scheduled yet, in an order that is not a time.
- ``_schedule``: OOBTree (time, id) -> id of scheduled cron, delayed and
  retried jobs; due jobs are a key range.
- ``_index``: a JobIndex (ids by status, by task, by start and finish
  time): filtering, counting, sorting and cleaning never scan all jobs.
- ``_progress``: LOBTree id -> (fraction, message) reported by running
  tasks in transactions of their own (kept off the job object so that a
  progress report never conflicts with the job's own transaction).
- ``_workers``: OOBTree worker id -> WorkerRecord (``zodbtasks.workers``).
"""
import itertools
import persistent
import zope.component
import zope.interface
from BTrees.LOBTree import LOBTree
from BTrees.OOBTree import OOBTree
from zope.component.interfaces import ISite
from zope.container.contained import Contained
from zope.interface.interfaces import IComponentLookup

from zodbtasks import activation
from zodbtasks import adding
from zodbtasks import cancels
from zodbtasks import clock
from zodbtasks import folding
from zodbtasks import groups
from zodbtasks import identity
from zodbtasks import interfaces
from zodbtasks import limits
from zodbtasks import options
from zodbtasks import processor
from zodbtasks import reindex
from zodbtasks import retention
from zodbtasks import runner
from zodbtasks.activities import Activities
from zodbtasks.dispatch import Dispatch
from zodbtasks.folding import FoldLease
from zodbtasks.index import JobIndex
from zodbtasks.interfaces import CANCELLED
from zodbtasks.interfaces import ERROR
from zodbtasks.interfaces import FINISHED
from zodbtasks.interfaces import PROCESSING
from zodbtasks.interfaces import QUEUED
from zodbtasks.interfaces import STARTLATER
from zodbtasks.interfaces import WAITING
from zodbtasks.job import CronJob
from zodbtasks.jobmaps import JobMaps
from zodbtasks.settings import ServiceSettings
from zodbtasks.shards import ShardedQueue
from zodbtasks.transactions import in_transaction
from zodbtasks.trees import JobTree
from zodbtasks.workflows import Workflows

#: How many jobs one transaction of clean(), cancelAll() or
#: rebuildIndex() touches.
BATCH_SIZE = 1000


@zope.interface.implementer(interfaces.ITaskService,
                           interfaces.IJobEnvironment)
class TaskService(Activities, Workflows, ServiceSettings, Contained,
                  persistent.Persistent):
    """See ITaskService."""

    taskInterface = interfaces.ITask

    def __init__(self):
        super().__init__()
        self.jobs = JobTree()
        self._queue = ShardedQueue()
        self._fold_lease = FoldLease()
        self._schedule = OOBTree()
        self._index = JobIndex()
        self._progress = LOBTree()
        self._workers = OOBTree()

    def __repr__(self):
        return '<%s %s>' % (self.__class__.__name__, '/'.join(self.path))

    # -- traversal-friendly read access ----------------------------------

    def __getitem__(self, jobid):
        return self.jobs[int(jobid)]

    def __contains__(self, jobid):
        return int(jobid) in self.jobs

    def __len__(self):
        return len(self.jobs)

    @property
    def path(self):
        """The names from the root down to this service."""
        names = []
        obj = self
        while obj is not None:
            name = getattr(obj, '__name__', None)
            if name:
                names.append(name)
            obj = getattr(obj, '__parent__', None)
        return tuple(reversed(names))

    # -- sites and tasks -----------------------------------------------------

    def getSiteManager(self):
        """The site manager holding this service (the global one when the
        service is not stored in a site)."""
        obj = getattr(self, '__parent__', None)
        while obj is not None:
            if IComponentLookup.providedBy(obj):
                return obj
            if ISite.providedBy(obj):
                return obj.getSiteManager()
            obj = getattr(obj, '__parent__', None)
        return zope.component.getGlobalSiteManager()

    def getSite(self):
        """The site whose site manager holds this service, or None."""
        sm = self.getSiteManager()
        site = getattr(sm, '__parent__', None)
        return site if ISite.providedBy(site) else None

    def captureIdentity(self, runAs):
        """See IJobEnvironment."""
        context = runAs.context if isinstance(runAs, identity.Identity) \
            else None
        return identity.run_as(runAs), context

    def jobEnvironment(self, job):
        """See IJobEnvironment."""
        return identity.environment(self, job)

    def getAvailableTasks(self):
        """See ITaskService."""
        return dict(self.getSiteManager().getUtilitiesFor(
            self.taskInterface))

    def getTask(self, name):
        """See ITaskService."""
        task = self.getSiteManager().queryUtility(self.taskInterface, name)
        if task is None and name == activation.METHOD_TASK:
            return activation.CALL_METHOD
        if task is None:
            raise interfaces.UnknownTaskError(
                'no task named %r is registered for task service %s'
                % (name, '/'.join(self.path) or repr(self)))
        return task

    # -- adding and changing jobs ----------------------------------------

    def add(self, task, input=None, startLater=False, *, priority=0,
            at=None, beginBy=None, after=(), tag=(), afterTag=(),
            afterTask=(), onDependencyFailure='wait', serializationTag=None,
            uniqueKey=None, retryPolicy=None, timeLimit=None,
            runAs=identity.CURRENT_PRINCIPAL, then=None, groupKey=None,
            now=None):
        """See ITaskService."""
        uniqueKey = options.check_unique_key(uniqueKey)
        groupKey = options.check_group_key(groupKey)
        if uniqueKey is not None:
            waiting = self._maps().find_unique(uniqueKey)
            if waiting is not None:
                return waiting
        self._check_new_job(task, input)
        now = clock.now() if now is None else now
        settings, start = options.job_options(
            priority=priority, at=at, beginBy=beginBy, after=after, tag=tag,
            afterTag=afterTag, afterTask=afterTask,
            onDependencyFailure=onDependencyFailure,
            serializationTag=serializationTag, timeLimit=timeLimit, now=now)
        principal, context = self.captureIdentity(runAs)
        if principal is not None:
            settings['runAs'] = principal
        if context is not None:
            settings['runContext'] = context
        if groupKey is not None:
            settings['groupKey'] = groupKey
        then = groups.check_then(then)
        if then is not None:
            self.getTask(then[0])
            settings['then'] = then
        maps = self._maps()
        jobid = adding.add_job(maps, task, input, startLater, settings, start,
                               uniqueKey, retryPolicy, now)
        self._release(maps, now)
        return jobid

    def findUnique(self, uniqueKey):
        """See ITaskService."""
        return self._maps().find_unique(uniqueKey)

    def addCronJob(self, task, input=None, minute=(), hour=(),
                   dayOfMonth=(), month=(), dayOfWeek=(), delay=None,
                   cron=None, timezone=None, now=None, *, priority=0,
                   tag=(), serializationTag=None,
                   runAs=identity.CURRENT_PRINCIPAL):
        """See ITaskService."""
        self._check_new_job(task, input)
        now = clock.now() if now is None else now
        settings, _ = options.job_options(
            priority=priority, tag=tag, serializationTag=serializationTag)
        maps = self._maps()
        job = CronJob(maps.new_id(now), task, input, minute=minute,
                      hour=hour, dayOfMonth=dayOfMonth, month=month,
                      dayOfWeek=dayOfWeek, delay=delay, cron=cron,
                      timezone=timezone, created=now)
        adding.apply_cron_options(job, settings)
        job.runAs, job.runContext = self.captureIdentity(runAs)
        maps.insert(job, now)
        return job.id

    def updateCronJob(self, jobid, task, input=None, minute=(), hour=(),
                      dayOfMonth=(), month=(), dayOfWeek=(), delay=None,
                      cron=None, timezone=None):
        """See ITaskService."""
        job, maps = self._settled(jobid)
        if not interfaces.ICronJob.providedBy(job) \
                or job.status not in (job.waiting_status, PROCESSING):
            raise ValueError('job %s is %s; only waiting or running cron '
                             'jobs can be changed' % (jobid, job.status))
        self._check_new_job(task, input)
        job.update(minute=minute, hour=hour, dayOfMonth=dayOfMonth,
                   month=month, dayOfWeek=dayOfWeek, delay=delay, cron=cron,
                   timezone=timezone)
        maps.change_task(job, task)
        job.input = input
        if job.status != PROCESSING:
            maps.unqueue(job)
            maps.unschedule(job)
            maps.wait(job, job.waiting_status, None)

    def startJob(self, jobid, now=None):
        """See ITaskService."""
        job, maps = self._settled(jobid)
        if job.status != STARTLATER:
            return False
        maps.wait(job, QUEUED, clock.now() if now is None else now)
        return True

    def cancel(self, jobid):
        """See ITaskService."""
        job, maps = self._settled(jobid)
        if job.status == PROCESSING:
            if not job.cancel_while_running():
                cancels.request(self, jobid, cancels.current_principal())
            return True
        if job.status not in WAITING:
            return False
        maps.cancel(job, CANCELLED)
        self._release(maps)
        return True

    def reschedule(self, jobid):
        """See ITaskService."""
        job, maps = self._settled(jobid)
        if not interfaces.ICronJob.providedBy(job):
            raise TypeError('job %s is not a cron job' % jobid)
        if job.status != job.waiting_status:
            return False
        if job.scheduledFor is not None:
            maps.unschedule(job)
            maps.enqueue(job, None)
        return True

    def retry(self, jobid, now=None):
        """See ITaskService."""
        job, maps = self._settled(jobid)
        if job.status not in (ERROR, CANCELLED):
            return False
        job.clearOutcome()
        job.attempts = 0
        now = clock.now() if now is None else now
        job.afterCursor = 0
        maps.wait(job, QUEUED, now)
        if job.uniqueKey is not None \
                and maps.find_unique(job.uniqueKey) is None:
            maps.hold_unique(job)
        self._release(maps, now)
        return True

    def delete(self, jobid):
        """See ITaskService."""
        job, maps = self._settled(jobid)
        if job.status == PROCESSING:
            return False
        maps.remove(job)
        self._release(maps)
        return True

    # -- reading jobs ----------------------------------------------------

    def getStatus(self, jobid):
        """See ITaskService."""
        return self.jobs[jobid].status

    def getResult(self, jobid):
        """See ITaskService."""
        return self.jobs[jobid].output

    def getError(self, jobid):
        """See ITaskService."""
        return self.jobs[jobid].error

    def getProgress(self, jobid):
        """See ITaskService."""
        return self._progress.get(jobid)

    def countByStatus(self):
        """See ITaskService.  Claims that wait for a fold to be indexed
        (``zodbtasks.folding``) count as processing already: the workers'
        records list them."""
        counts = self._index.count_by_status()
        deferred = len(folding.deferred_claims(self))
        if deferred:
            counts[QUEUED] -= deferred
            counts[PROCESSING] += deferred
        return counts

    def countByTask(self):
        """See ITaskService."""
        return self._index.count_by_task()

    def jobIdsByStatus(self, status):
        """See ITaskService."""
        return self._index.ids_by_status(status)

    def queryJobs(self, status=None, task=None, sortOn='id', reverse=True,
                  start=0, size=50, tag=None):
        """See ITaskService."""
        total, ids = self._index.query(self.jobs, status, task, sortOn,
                                       reverse, start, size, tag=tag)
        return total, [self.jobs[jobid] for jobid in ids]

    def finishedPerMinute(self, now=None, minutes=60):
        """See ITaskService."""
        now = clock.now() if now is None else now
        return self._index.finished_per_minute(now, minutes)

    def oldestWaiting(self, now=None):
        """See ITaskService."""
        return self._maps().oldest_waiting(
            clock.now() if now is None else now)

    def nextScheduledTime(self):
        """See ITaskService."""
        return self._maps().next_scheduled_time()

    # -- batch operations in transactions of their own -------------------

    def process(self, now=None):
        """See ITaskService."""
        return runner.drain(self, now=now)

    def processNext(self, now=None):
        """See ITaskService."""
        return runner.drain(self, now=now, limit=1) == 1

    def clean(self, status=FINISHED):
        """See ITaskService."""
        statuses = tuple(status)
        for name in statuses:
            if name not in FINISHED:
                raise ValueError(
                    'clean() removes finished jobs (%s), not %r jobs; '
                    'cancel them first' % (', '.join(FINISHED), name))
        return runner.in_batches(self, self._remove_some, statuses,
                                 BATCH_SIZE)

    def removeExpired(self, keep=None, now=None):
        """See ITaskService."""
        keep = retention.configured() if keep is None \
            else retention.check_policy(keep)
        now = clock.now() if now is None else now
        if not keep:
            return 0
        runner.check_no_pending_changes(self)
        tm = runner.transaction_manager_of(self)
        total = 0
        while True:
            removed, more = in_transaction(
                tm, lambda: Dispatch(self).expireJobs(keep, now))
            total += removed
            if not more:
                return total

    def cancelAll(self):
        """See ITaskService."""
        return runner.in_batches(self, self._cancel_some, WAITING,
                                 BATCH_SIZE)

    def checkIndex(self):
        """See ITaskService."""
        return reindex.check(self._maps())

    def rebuildIndex(self):
        """See ITaskService."""
        return reindex.rebuild(self, BATCH_SIZE)

    def _remove_some(self, statuses, limit):
        maps = self._maps()
        ids = self._index.first_ids(statuses, limit)
        for jobid in ids:
            maps.remove(self.jobs[jobid])
        self._release(maps)
        return len(ids)

    def _cancel_some(self, statuses, limit):
        return sum(1 for jobid in self._index.first_ids(statuses, limit)
                   if self.cancel(jobid))

    # -- workers ---------------------------------------------------------

    def workers(self, now=None):
        """See ITaskService."""
        now = clock.now() if now is None else now
        maps = self._maps()
        return [{'id': record.id, 'heartbeat': record.heartbeat,
                 'started': record.started,
                 'running': maps.running(record),
                 'alive': record.alive(now, self.leaseTimeout)}
                for record in maps.workers.values()]

    def overTimeLimit(self, now=None):
        """See ITaskService."""
        now = clock.now() if now is None else now
        found = []
        for jobid in itertools.chain(self._index.ids_by_status(PROCESSING),
                                     folding.deferred_claims(self)):
            job = self.jobs.get(jobid)
            if job is None or job.status != PROCESSING:
                continue
            task = self.getSiteManager().queryUtility(self.taskInterface,
                                                      job.task)
            if cancels.over_time_limit(job, task, now):
                found.append(job)
        return found

    def stuckJobs(self, now=None):
        """See ITaskService."""
        now = clock.now() if now is None else now
        maps = self._maps()
        return [self.jobs[jobid]
                for record in maps.workers.values()
                if not record.alive(now, self.leaseTimeout)
                for jobid in maps.running(record)]

    def sweep(self, now=None):
        """See ITaskService."""
        return Dispatch(self).sweep(clock.now() if now is None else now)

    # -- processing threads ------------------------------------------------

    def startProcessing(self):
        """See ITaskService."""
        processor.start(self)

    def stopProcessing(self):
        """See ITaskService."""
        processor.stop(self)

    def isProcessing(self):
        """See ITaskService."""
        return processor.is_running(self)

    # -- helpers -----------------------------------------------------------

    def _maps(self):
        return JobMaps(self)

    def _settled(self, jobid):
        """The job (KeyError for an unknown id), folded if it finished,
        and the job-state layer."""
        job, maps = self.jobs[jobid], self._maps()
        maps.settle(job)
        return job, maps

    @staticmethod
    def _release(maps, now=None):
        """Look at the watchers of jobs that stopped holding (up to a
        batch: claims and sweeps continue)."""
        if maps.deps.pending():
            maps.work(clock.now() if now is None else now)

    def _check_new_job(self, task, input):
        self.getTask(task)
        limits.check_input_size(input, self.maxInputSize,
                                'input of a %r job' % task)
