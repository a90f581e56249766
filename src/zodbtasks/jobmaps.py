"""The job-state layer: the one place where a job's status, its queue
entry, its schedule entry and its index entries change together.

``JobMaps(service)`` is a view over what a task service stores (nothing
of it is persistent itself):

- ``jobs``: LOBTree id -> job;
- ``queue``: BTreeQueue of the ids of queued jobs, and of cron jobs that
  no processor has scheduled yet (``job.queueKey`` is the entry's key);
- ``schedule``: OOBTree (time, id) -> id of scheduled cron, delayed and
  retried jobs (``job.scheduledFor`` is the time);
- ``index``: JobIndex (ids by status and task, start and finish times);
- ``progress``: LOBTree id -> (fraction, message);
- ``workers``: OOBTree worker id -> WorkerRecord.

The public API (``zodbtasks.service``) and the processors' steps
(``zodbtasks.dispatch``) both go through it; no other module touches the
queue, the schedule or the index.  It never commits: callers own the
transaction.  It never reads the clock: times are passed in.

Design note on finished jobs: a job's run transaction writes only the
job (so the jobs of different workers never conflict); its worker's
record keeps listing it, and its index entries still say ``processing``,
until the worker folds it in its next claim transaction.  Until then the
job is *unfolded*; ``settle`` folds one job before it is changed from
outside a processor.
"""
import zlib

from BTrees.OOBTree import OOBTree

from zodbtasks import cancels
from zodbtasks import dependencies
from zodbtasks import groups
from zodbtasks import wakeup
from zodbtasks.claiming import Claiming
from zodbtasks.dependencies import Dependencies
from zodbtasks.holds import Holds
from zodbtasks.interfaces import BLOCKED
from zodbtasks.interfaces import CANCELLED
from zodbtasks.interfaces import COMPLETED
from zodbtasks.interfaces import FINISHED
from zodbtasks.interfaces import PROCESSING
from zodbtasks.interfaces import QUEUED
from zodbtasks.interfaces import WAITING
from zodbtasks.keys import MAX_ID
from zodbtasks.keys import ready_key
from zodbtasks.keys import time_ordered_key
from zodbtasks.job import Next
from zodbtasks.trees import made

#: A kept release key below this is a distance from the job's ready
#: place (order keys are far larger: milliseconds shifted left).
RELEASE_OFFSETS = 1 << 32


class JobMaps(Claiming):
    """See the module docstring (claims, runs and folds:
    ``zodbtasks.claiming``)."""

    def __init__(self, service):
        self.service = service
        self.jobs = service.jobs
        self.queue = service._queue
        self.schedule = service._schedule
        self.index = service._index
        self.progress = service._progress
        self.deps = Dependencies(self)
        self.holds = Holds(self)

    @property
    def workers(self):
        return made(self.service, '_workers', OOBTree)

    # -- jobs in and out -------------------------------------------------

    def new_id(self, now):
        last = self.jobs.maxKey() if self.jobs else None
        return time_ordered_key(now, self.jobs, after=last)

    def insert(self, job, now):
        """Store a new job and let it wait in its status."""
        self.jobs[job.id] = job
        self.index.add(job)
        self.indexed(job, None, job.status)
        if job.status != job.waiting_status:
            return
        self.enqueue(job, now)

    def remove(self, job):
        """Remove a job that is not running, with all its entries."""
        self.unqueue(job)
        self.unschedule(job)
        self.forget_unique(job)
        del self.jobs[job.id]
        self.index.remove(job)
        self.indexed(job, job.status, None)
        self.progress.pop(job.id, None)

    def change_task(self, job, task):
        if task != job.task:
            self.index.by_task.remove(job.task, job.id)
            self.index.by_task.add(task, job.id)
            job.task = task

    # -- status, queue and schedule --------------------------------------

    def set_status(self, job, status):
        if job.status != status:
            if status not in WAITING:
                self.forget_unique(job)
            old, job.status = job.status, status
            self.index.move(job.id, old, status)
            self.indexed(job, old, status)

    def indexed(self, job, old, new):
        """What follows a change of a job's indexed status (None: new or
        removed): its holds on tags and tasks and its watchers, its
        group's outcome, what it held while it ran, its chain step."""
        self.deps.changed(job, old, new)
        if job.group is not None and new is not None:
            groups.member_changed(self.service, job, old, new)
        if old == PROCESSING:
            self.holds.ended(job)
            cancels.forget(self.service, job.id)
        if job.then is not None and new == COMPLETED:
            self.service._add_next_step(job)

    # -- unique keys: one waiting job per key --------------------------------

    @property
    def unique(self):
        """uniqueKey -> id of the waiting job that holds it (made on first
        use: services of 0.1 have none)."""
        return made(self.service, '_unique', OOBTree)

    def unique_tree(self):
        """The unique keys' tree, or None while none was ever held."""
        return getattr(self.service, '_unique', None)

    def find_unique(self, key):
        """The id of the waiting job holding ``key``, or None."""
        tree = self.unique_tree()
        jobid = tree.get(key) if tree is not None else None
        job = self.jobs.get(jobid) if jobid is not None else None
        return jobid if job is not None and job.status in WAITING else None

    def hold_unique(self, job):
        """Make ``job`` (new and waiting) the holder of its uniqueKey: two
        transactions doing so for one key conflict (one BTree key)."""
        self.unique[job.uniqueKey] = job.id

    def forget_unique(self, job):
        """``job`` no longer waits: a new job may take its key."""
        if job.uniqueKey is not None:
            tree = self.unique_tree()
            if tree is not None and tree.get(job.uniqueKey) == job.id:
                del tree[job.uniqueKey]

    def wait(self, job, status, now):
        """Make a job wait in ``status`` at the end of the queue."""
        self.set_status(job, status)
        self.enqueue(job, now)

    def enqueue(self, job, now, key=None):
        """Put ``job`` in the ready queue: at ``key`` (or the first free
        key after it), else at its place by the time it became ready
        (``now``, or when it was queued last) and its priority."""
        if key is None:
            job.queueKey = self.queue.insert(job.id, self.ready_place(
                job, now), home=self.home_of(job))
        else:
            job.queueKey = self.queue.put(job.id, key=key)
        if now is not None:
            job.enqueued = now
        wakeup.notify_after_commit(self.service)

    def ready_place(self, job, now=None):
        """Where ``job``, ready at ``now`` (None: when it was queued
        last), takes its place in the ready queue (in its shard)."""
        when = now if now is not None else (
            job.enqueued or job.created or 0.0)
        return self.queue.align(self.home_of(job), ready_key(
            when, job.priority, self.service.agingStep))

    @staticmethod
    def home_of(job):
        """The number that picks ``job``'s shard of the ready queue: its
        serialization tag's (so that those jobs keep their order), else
        its id."""
        if job.serializationTag is not None:
            return zlib.crc32(job.serializationTag.encode('utf-8'))
        return job.id

    def release_key(self, job, position):
        """What a claimed job keeps of the queue key it was pulled from:
        None when that was its ready place, the distance from there when
        small (jobs queued in one millisecond lie a few keys apart), else
        the key.  A byte-saver: a claim writes every job it claims."""
        offset = position - self.ready_place(job)
        if offset == 0:
            return None
        return offset if 0 < offset < RELEASE_OFFSETS else position

    def released_at(self, job):
        """The queue key a claimed job that did not run goes back to."""
        kept = job.releaseKey
        if kept is None:
            return self.ready_place(job)
        return self.ready_place(job) + kept if kept < RELEASE_OFFSETS \
            else kept

    def unqueue(self, job):
        if job.parkedOn is not None:
            self.holds.unpark(job)
        if job.queueKey is not None:
            if self.queue.get(job.queueKey) == job.id:
                self.queue.remove(job.queueKey)
            job.queueKey = None

    def schedule_at(self, job, when):
        job.scheduledFor = when
        self.schedule[(when, job.id)] = job.id
        wakeup.notify_after_commit(self.service)

    def unschedule(self, job):
        if getattr(job, 'scheduledFor', None) is not None:
            self.schedule.pop((job.scheduledFor, job.id), None)
            job.scheduledFor = None

    def go(self, job, step, now):
        """Apply what the job's kind decided (a ``job.Next``)."""
        self.set_status(job, step.status)
        if step.at is not None:
            self.schedule_at(job, step.at)
        if step.status in FINISHED:
            job.completed = now
            self.index_completed(job)

    def cancel(self, job, status):
        self.unqueue(job)
        self.unschedule(job)
        self.set_status(job, status)

    # -- reading ---------------------------------------------------------

    def next_scheduled_time(self):
        times = [self.schedule.minKey()[0]] if self.schedule else []
        wake = self.holds.next_wake()
        if wake is not None:
            times.append(wake)
        return min(times) if times else None

    def due(self, now, limit):
        """The schedule keys due at ``now``, earliest first."""
        keys = []
        for key in self.schedule.keys(max=(now, MAX_ID)):
            if len(keys) >= limit:
                break
            keys.append(key)
        return keys

    def oldest_waiting(self, now):
        """Seconds the oldest waiting job has waited at ``now``."""
        since = []
        if self.queue:
            job = self.jobs.get(self.queue[0])
            if job is not None:
                since.append(job.enqueued if job.enqueued is not None
                             else job.created)
        due = self.next_scheduled_time()
        if due is not None and due <= now:
            since.append(due)
        return max(now - min(since), 0.0) if since else None

    # -- dependencies and holds --------------------------------------------

    def place_new(self, job, now):
        """Before a new job that would be queued is inserted: block it
        or cancel it when its dependencies say so."""
        verdict, detail = self.deps.evaluate(job)
        if verdict == dependencies.WAITS:
            job.status = BLOCKED
            job.enqueued = now
        elif verdict == dependencies.CANCEL:
            job.status = CANCELLED
            job.recordFailure('cancelled: ' + detail)
            job.completed = now
        return verdict, detail

    def settle_dependency(self, job, verdict, detail, cause, now):
        """Apply what checking a job's dependencies found."""
        if cause is not None and job.onDependencyFailure == 'cancel':
            verdict, detail = dependencies.CANCEL, cause
        if verdict == dependencies.READY:
            self.set_status(job, QUEUED)
            self.enqueue(job, None)
        elif verdict == dependencies.CANCEL:
            self.unqueue(job)
            job.recordFailure('cancelled: ' + detail)
            self.go(job, Next(CANCELLED, None), now)
        else:
            self.set_status(job, BLOCKED)
            self.deps.watch(job, detail[0])

    def work(self, now, budget=dependencies.RELEASE_BATCH):
        """Release, cancel or re-block the watchers of jobs that stopped
        holding, and put back parked jobs whose gate is due: up to
        ``budget`` jobs (the rest: the next claim or sweep)."""
        done = 0
        if self.deps.pending():
            done = self.deps.work(
                budget, lambda job, verdict, detail, cause:
                self.settle_dependency(job, verdict, detail, cause, now))
        self.holds.repair_wakes(now)
        return done + self.holds.wake_due(
            now, budget - done, lambda job, key: self.enqueue(job, None,
                                                              key=key))

    def index_completed(self, job):
        index = self.index
        index.set_time(index.completed, job.id, None, job.completed)
