"""TaskService: owns the job BTree, the queue, the schedule and the
per-status index, and keeps them in step with the jobs' statuses.

Storage layout (all writes per job touch a few small buckets, never the
service object itself, so concurrent writers rarely conflict):

- ``jobs``: LOBTree id -> job.  Ids grow with creation time (see
  ``zodbtasks.queue.time_ordered_key``), so newest-first is chronological.
- ``_queue``: BTreeQueue of the ids of queued jobs, and of cron jobs that
  no processor has scheduled yet.
- ``_schedule``: OOBTree (time, id) -> id of scheduled cron and delayed
  jobs; due jobs are a key range, rescheduling and cancelling are lookups.
- ``_index``: a JobIndex (ids by status, by task, by start and finish
  time): filtering, counting, sorting and cleaning never scan all jobs.
- ``_progress``: LOBTree id -> (fraction, message) reported by running
  tasks in transactions of their own (kept off the job object so that a
  progress report never conflicts with the job's own transaction).
"""
import persistent
import zope.component
import zope.interface
from BTrees.LOBTree import LOBTree
from BTrees.OOBTree import OOBTree
from zope.component.interfaces import ISite
from zope.container.contained import Contained
from zope.interface.interfaces import IComponentLookup

from zodbtasks import clock
from zodbtasks import interfaces
from zodbtasks import processor
from zodbtasks.interfaces import CANCELLED
from zodbtasks.interfaces import CRONJOB
from zodbtasks.interfaces import DELAYED
from zodbtasks.interfaces import ERROR
from zodbtasks.interfaces import PROCESSING
from zodbtasks.interfaces import QUEUED
from zodbtasks.interfaces import STARTLATER
from zodbtasks.job import CronJob
from zodbtasks.job import Job
from zodbtasks.job import check_picklable
from zodbtasks.dispatch import JobDispatch
from zodbtasks.index import JobIndex
from zodbtasks.queue import BTreeQueue
from zodbtasks.queue import time_ordered_key

#: How many jobs one transaction of clean() or cancelAll() touches.
BATCH_SIZE = 1000


@zope.interface.implementer(interfaces.ITaskService)
class TaskService(JobDispatch, Contained, persistent.Persistent):
    """See ITaskService."""

    taskInterface = interfaces.ITask
    pollInterval = 1.0

    def __init__(self):
        super().__init__()
        self.jobs = LOBTree()
        self._queue = BTreeQueue()
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

    def getAvailableTasks(self):
        """See ITaskService."""
        return dict(self.getSiteManager().getUtilitiesFor(
            self.taskInterface))

    def getTask(self, name):
        """See IJobDispatch."""
        task = self.getSiteManager().queryUtility(self.taskInterface, name)
        if task is None:
            raise interfaces.UnknownTaskError(
                'no task named %r is registered for task service %s'
                % (name, '/'.join(self.path) or repr(self)))
        return task

    # -- adding and changing jobs ----------------------------------------

    def add(self, task, input=None, startLater=False, retryPolicy=None):
        """See ITaskService."""
        self._check_new_job(task, input)
        now = clock.now()
        job = Job(self._new_id(now), task, input, created=now)
        if retryPolicy is not None:
            job.retryPolicy = retryPolicy
        if startLater:
            job.status = STARTLATER
        self._insert(job)
        if not startLater:
            self._enqueue(job, now)
        return job.id

    def addCronJob(self, task, input=None, minute=(), hour=(),
                   dayOfMonth=(), month=(), dayOfWeek=(), delay=None,
                   cron=None, timezone=None):
        """See ITaskService."""
        self._check_new_job(task, input)
        now = clock.now()
        job = CronJob(self._new_id(now), task, input, minute=minute, hour=hour,
                      dayOfMonth=dayOfMonth, month=month,
                      dayOfWeek=dayOfWeek, delay=delay, cron=cron,
                      timezone=timezone, created=now)
        self._insert(job)
        self._enqueue(job, now)
        return job.id

    def updateCronJob(self, jobid, task, input=None, minute=(), hour=(),
                      dayOfMonth=(), month=(), dayOfWeek=(), delay=None,
                      cron=None, timezone=None):
        """See ITaskService."""
        job = self.jobs[jobid]
        self._settle(job)
        if not isinstance(job, CronJob) \
                or job.status not in (CRONJOB, DELAYED, PROCESSING):
            raise ValueError('job %s is %s; only waiting or running cron '
                             'jobs can be changed' % (jobid, job.status))
        self._check_new_job(task, input)
        job.update(minute=minute, hour=hour, dayOfMonth=dayOfMonth,
                   month=month, dayOfWeek=dayOfWeek, delay=delay, cron=cron,
                   timezone=timezone)
        if task != job.task:
            self._index.by_task.remove(job.task, jobid)
            self._index.by_task.add(task, jobid)
            job.task = task
        job.input = input
        if job.status != PROCESSING:
            self._set_status(job, DELAYED if job.isDelayed else CRONJOB)
            self.reschedule(jobid)

    def startJob(self, jobid):
        """See ITaskService."""
        job = self.jobs[jobid]
        if job.status != STARTLATER:
            return False
        self._set_status(job, QUEUED)
        self._enqueue(job)
        return True

    def cancel(self, jobid):
        """See ITaskService."""
        job = self.jobs[jobid]
        self._settle(job)
        if job.status == PROCESSING and isinstance(job, CronJob):
            job.cancelRequested = True
            return True
        if job.status not in (QUEUED, DELAYED, CRONJOB, STARTLATER):
            return False
        self._unqueue(job)
        self._unschedule(job)
        self._set_status(job, CANCELLED)
        return True

    def reschedule(self, jobid):
        """See ITaskService."""
        job = self.jobs[jobid]
        self._settle(job)
        if not isinstance(job, CronJob):
            raise TypeError('job %s is not a cron job' % jobid)
        if job.status not in (CRONJOB, DELAYED):
            return False
        if job.scheduledFor is not None:
            self._unschedule(job)
            self._enqueue(job)
        return True

    def retry(self, jobid):
        """See ITaskService."""
        job = self.jobs[jobid]
        self._settle(job)
        if job.status not in (ERROR, CANCELLED):
            return False
        job.clearOutcome()
        job.attempts = 0
        self._set_status(job, QUEUED)
        self._enqueue(job)
        return True

    def delete(self, jobid):
        """See ITaskService."""
        job = self.jobs[jobid]
        self._settle(job)
        if job.status == PROCESSING:
            return False
        self._unqueue(job)
        self._unschedule(job)
        self._remove(job)
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
        """See ITaskService."""
        return self._index.count_by_status()

    def countByTask(self):
        """See ITaskService."""
        return self._index.count_by_task()

    def jobIdsByStatus(self, status):
        """See ITaskService."""
        return self._index.ids_by_status(status)

    def queryJobs(self, status=None, task=None, sortOn='id', reverse=True,
                  start=0, size=50):
        """See ITaskService."""
        total, ids = self._index.query(self.jobs, status, task, sortOn,
                                       reverse, start, size)
        return total, [self.jobs[jobid] for jobid in ids]

    def finishedPerMinute(self, now=None, minutes=60):
        """See ITaskService."""
        now = clock.now() if now is None else now
        return self._index.finished_per_minute(now, minutes)

    def oldestWaiting(self, now=None):
        """See ITaskService."""
        now = clock.now() if now is None else now
        since = []
        if self._queue:
            since.append(self._queue.enqueuedAt(0))
        due = self.nextScheduledTime()
        if due is not None and due <= now:
            since.append(due)
        return now - min(since) if since else None

    # -- batch operations in transactions of their own -------------------

    def process(self, now=None):
        """See ITaskService."""
        return processor.drain(self, now=now)

    def processNext(self, now=None):
        """See ITaskService."""
        return processor.drain(self, now=now, limit=1) == 1

    def clean(self, status=interfaces.FINISHED):
        """See ITaskService."""
        statuses = tuple(status)
        for name in statuses:
            if name not in interfaces.FINISHED:
                raise ValueError(
                    'clean() removes finished jobs (%s), not %r jobs; '
                    'cancel them first' % (', '.join(interfaces.FINISHED),
                                           name))
        return processor.in_batches(self, self._remove_some, statuses,
                                      BATCH_SIZE)

    def cancelAll(self):
        """See ITaskService."""
        statuses = (QUEUED, DELAYED, CRONJOB, STARTLATER)
        return processor.in_batches(self, self._cancel_some, statuses,
                                      BATCH_SIZE)

    def _remove_some(self, statuses, limit=BATCH_SIZE):
        done = 0
        for jobid in self._first_ids(statuses, limit):
            self._remove(self.jobs[jobid])
            done += 1
        return done

    def _cancel_some(self, statuses, limit=BATCH_SIZE):
        return sum(1 for jobid in self._first_ids(statuses, limit)
                   if self.cancel(jobid))

    def _first_ids(self, statuses, limit):
        ids = []
        for status in statuses:
            for jobid in self.jobIdsByStatus(status):
                if len(ids) >= limit:
                    return ids
                ids.append(jobid)
        return ids

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

    # -- index bookkeeping -------------------------------------------------

    def _check_new_job(self, task, input):
        self.getTask(task)
        check_picklable(input, 'input of a %r job' % task)

    def _new_id(self, now):
        last = self.jobs.maxKey() if self.jobs else None
        return time_ordered_key(now, self.jobs, after=last)

    def _insert(self, job):
        self.jobs[job.id] = job
        self._index.add(job)

    def _remove(self, job):
        del self.jobs[job.id]
        self._index.remove(job)
        self._progress.pop(job.id, None)

    def _set_status(self, job, status):
        if job.status != status:
            self._index.move(job.id, job.status, status)
            job.status = status

    def _enqueue(self, job, now=None):
        job.queueKey = self._queue.put(job.id, now=now)
        processor.wake_after_commit(self)

    def _unqueue(self, job):
        if job.queueKey is not None:
            self._queue.remove(job.queueKey)
            job.queueKey = None

    def _schedule_at(self, job, when):
        job.scheduledFor = when
        self._schedule[(when, job.id)] = job.id
        processor.wake_after_commit(self)

    def _unschedule(self, job):
        if getattr(job, 'scheduledFor', None) is not None:
            self._schedule.pop((job.scheduledFor, job.id), None)
            job.scheduledFor = None
