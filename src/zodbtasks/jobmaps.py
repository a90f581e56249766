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
from zodbtasks import clock
from zodbtasks import dependencies
from zodbtasks import folding
from zodbtasks import groups
from zodbtasks import wakeup
from zodbtasks.dependencies import Dependencies
from zodbtasks.holds import Holds
from zodbtasks.interfaces import BLOCKED
from zodbtasks.interfaces import CANCELLED
from zodbtasks.interfaces import COMPLETED
from zodbtasks.interfaces import FINISHED
from zodbtasks.interfaces import PROCESSING
from zodbtasks.interfaces import QUEUED
from zodbtasks.interfaces import WAITING
from zodbtasks.interfaces import ERROR
from zodbtasks.keys import MAX_ID
from zodbtasks.keys import ready_key
from zodbtasks.keys import time_ordered_key
from zodbtasks.job import Next
from zodbtasks.trees import made
from zodbtasks.workers import WorkerRecord

#: A kept release key below this is a distance from the job's ready
#: place (order keys are far larger: milliseconds shifted left).
RELEASE_OFFSETS = 1 << 32
#: Seconds after which a due cron job that was held back is tried again.
HELD_CRON_RETRY = 1.0


class JobMaps:
    """See the module docstring."""

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

    # -- claims, runs, folds ---------------------------------------------

    def rank(self, owner, now):
        """(``owner``'s rank among the live workers, how many there are),
        or None when no other live worker holds jobs (it then claims in
        the exact order)."""
        lease = self.service.leaseTimeout
        alive, others = [owner], False
        for key, record in self.workers.items():
            if key != owner and record.alive(now, lease):
                alive.append(key)
                others = others or folding.busy(record)
        return (sorted(alive).index(owner), len(alive)) if others \
            else None

    def record(self, owner, now):
        record = self.workers.get(owner)
        if record is None:
            record = self.workers[owner] = WorkerRecord(owner, now)
        return record

    def claim(self, job, now, owner, defer=False):
        """Claim ``job`` for ``owner``; with ``defer``, a plain job's claim
        is indexed later, by the fold lease's holder (``zodbtasks.
        folding``)."""
        record = self.record(owner, now)
        index = self.index
        if defer and folding.may_defer(self, job):
            job.status = PROCESSING
            folding.defer(record, job)
        else:
            index.set_time(index.completed, job.id, job.completed, None)
            self.set_status(job, PROCESSING)
            index.set_time(index.started, job.id, job.started, now)
        job.owner = record.id
        job.attempts += 1
        job.scheduledFor = None
        job.started = now
        record.jobs.add(job.id)
        self.progress.pop(job.id, None)
        self.holds.started(job, now)

    def pull(self, now, prefer=None, low=None):
        """Pull a front of the queue (see ``zodbtasks.shards``; ``prefer``:
        the claiming worker's rank, None for the global front; ``low``:
        the global front's key read at the claim's start): the job to
        claim, or None (the entry was stale, the job was scheduled
        instead, or its deadline passed)."""
        job = self.jobs.get(self.queue.take(prefer, low=low))
        if job is None:
            return None
        job.queueKey, position = None, job.queueKey
        when = job.when_pulled(now)
        if when is not None:
            self.schedule_at(job, when)
            return None
        if job.status != QUEUED or self.expired(job, now):
            return None
        job.releaseKey = self.release_key(job, position)
        if dependencies.has_dependencies(job):
            # Checked again: jobs tagged since it was released count.
            verdict, detail = self.deps.evaluate(job)
            if verdict != dependencies.READY:
                self.settle_dependency(job, verdict, detail, None, now)
                return None
        refusal = self.holds.refusal(job, now)
        if refusal is not None:
            self.holds.park(job, refusal[0], refusal[1], position)
            return None
        return job

    def take_due(self, key, now):
        """Take the due schedule entry ``key``: the job to claim now (a
        cron job), or None when it joined the ready queue at its place
        (a job delayed with ``at`` or retried after a back-off keeps its
        priority), or its deadline passed."""
        job = self.jobs[self.schedule.pop(key)]
        job.scheduledFor = None
        if self.expired(job, now):
            return None
        if job.claims_when_due:
            if self.holds.refusal(job, now) is not None:
                self.schedule_at(job, now + HELD_CRON_RETRY)
                return None
            return job
        self.wait(job, QUEUED, key[0])
        return None

    def expired(self, job, now):
        """End ``job`` in error when it did not start by its deadline;
        return whether it did."""
        if job.deadline is None or now <= job.deadline:
            return False
        job.recordFailure('deadline passed: not started by %s UTC'
                          % clock.format_utc(job.deadline))
        self.go(job, Next(ERROR, None), now)
        return True

    def finish(self, job, now, output, error, traceback, cancelled=False):
        """Record the end of a run; write the job only (see the design
        note) unless its worker was swept meanwhile, or a cancel request
        is dropped."""
        job.completed = now
        job.releaseKey = None  # only a job that did not run goes back
        job.output = output if error is None else None
        job.recordFailure(error, traceback)
        cancels.forget(self.service, job.id)
        step = Next(CANCELLED, None) if cancelled \
            else job.after_run(now, error)
        job.status = step.status
        if step.at is not None:
            self.schedule_at(job, step.at)
        record = self.workers.get(job.owner)
        if record is None or job.id not in record.jobs:
            self.index_finished(job)

    def release(self, job):
        """Give a claimed job that did not run back where it was."""
        record = self.workers.get(job.owner)
        if record is not None and folding.unindexed(self, job):
            folding.index_claim(self, record, job)
        if record is not None and job.id in record.jobs:
            record.jobs.remove(job.id)
        job.attempts -= 1
        step = job.after_release()
        self.set_status(job, step.status)
        if step.at is None:
            self.enqueue(job, None, key=self.released_at(job))
        else:
            self.schedule_at(job, step.at)

    def lost(self, job, message, now):
        """Handle a running job whose worker was lost."""
        job.recordFailure(message)
        self.go(job, job.after_loss(now), now)

    def fold(self, record, prompt_only=False, owner_side=True, skip=()):
        """Index the deferred claims and the finished jobs of ``record``
        (with ``prompt_only``, the finished prompt jobs only; with
        ``owner_side`` False, as the fold lease's holder for another
        worker, the plain ones only: see ``zodbtasks.folding``; the claims
        in ``skip`` are left deferred); return how many finished."""
        if owner_side:
            folding.prune(record)
        if not prompt_only:
            folding.index_claims(self, record, skip)
        finished = 0
        for jobid in list(record.jobs.keys()):
            job = self.jobs.get(jobid)
            if job is None:
                if owner_side:
                    record.jobs.remove(jobid)
            elif (job.status != PROCESSING or job.owner != record.id) \
                    and not folding.is_folded(record, jobid):
                if (prompt_only or not owner_side) and \
                        folding.prompt(self, job) != prompt_only:
                    continue  # the holder leaves prompt ends to their own
                if owner_side:
                    record.jobs.remove(jobid)
                else:
                    folding.mark_folded(record, jobid)
                if folding.unindexed(self, job) and job.status != PROCESSING:
                    folding.index_claim(self, record, job, ended=True)
                    self.index_completed(job)
                    self.indexed(job, PROCESSING, job.status)
                else:
                    if folding.unindexed(self, job):
                        folding.index_claim(self, record, job)
                    self.index_finished(job)
                finished += 1
        return finished

    def listed(self, job):
        """Whether the record of ``job``'s owner lists it: it runs, or it
        finished and is unfolded."""
        record = self.workers.get(job.owner) if job.owner else None
        return record is not None and job.id in record.jobs \
            and not folding.is_folded(record, job.id)

    def claim_unindexed(self, job):
        """Whether ``job``'s claim waits for a fold to be indexed."""
        return folding.unindexed(self, job)

    def indexed_status(self, job):
        """The status the index shows for ``job`` until its worker's
        record is folded: 'queued' for a deferred claim, 'processing' for
        an unfolded finished job, else its status."""
        if folding.unindexed(self, job):
            return QUEUED
        if job.status != PROCESSING and self.listed(job):
            return PROCESSING
        return job.status

    def settle(self, job):
        """Fold ``job`` now if its claim or its end is not indexed yet
        (before it is changed from outside a processor)."""
        if not self.listed(job):
            return
        record = self.workers[job.owner]
        if folding.unindexed(self, job):
            folding.index_claim(self, record, job)
        if job.status != PROCESSING:
            record.jobs.remove(job.id)
            self.index_finished(job)

    def running(self, record):
        """The ids of the jobs ``record``'s worker is running."""
        return [jobid for jobid in record.jobs.keys()
                if jobid in self.jobs
                and self.jobs[jobid].status == PROCESSING
                and self.jobs[jobid].owner == record.id]

    def index_finished(self, job):
        """Move a finished job from 'processing' to its status in the
        indexes, with its finish time."""
        self.index.move(job.id, PROCESSING, job.status)
        self.index_completed(job)
        self.indexed(job, PROCESSING, job.status)

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
