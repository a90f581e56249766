"""The job-state layer's claims, runs and folds: a worker claims jobs
(``claim``, ``pull``, ``take_due``), ends them (``finish``, ``release``,
``lost``) and folds what ended into the indexes (``fold``; who folds
when: ``zodbtasks.folding``).

``Claiming`` is a base of ``zodbtasks.jobmaps.JobMaps`` and uses what it
keeps (``jobs``, ``queue``, ``schedule``, ``index``, ``workers``,
``holds``, ``deps``) and its status, queue and schedule steps.  As there,
nothing here commits or reads the clock.
"""
from zodbtasks import attempts
from zodbtasks import cancels
from zodbtasks import clock
from zodbtasks import dependencies
from zodbtasks import folding
from zodbtasks.interfaces import CANCELLED
from zodbtasks.interfaces import ERROR
from zodbtasks.interfaces import PROCESSING
from zodbtasks.interfaces import QUEUED
from zodbtasks.job import Next
from zodbtasks import stats
from zodbtasks.workers import WorkerRecord

#: Seconds after which a due cron job that was held back is tried again.
HELD_CRON_RETRY = 1.0


class Claiming:
    """Claims, runs and folds of ``JobMaps`` (see the module docstring)."""

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
        attempts.record(job, now, attempts.CANCELLED if cancelled
                        else attempts.COMPLETED if error is None
                        else attempts.error_outcome(error))
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
        stats.job_ended(self.service, job, now, error, cancelled)
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
        attempts.record(job, None, attempts.RELEASED)
        job.attempts -= 1
        step = job.after_release()
        self.set_status(job, step.status)
        if step.at is None:
            self.enqueue(job, None, key=self.released_at(job))
        else:
            self.schedule_at(job, step.at)

    def lost(self, job, message, now):
        """Handle a running job whose worker was lost."""
        attempts.record(job, now, attempts.LOST)
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
            elif not folding.runs_under(job, record) \
                    and not folding.is_folded(record, jobid):
                if (prompt_only or not owner_side) and \
                        folding.prompt(self, job) != prompt_only:
                    continue  # the holder leaves prompt ends to their own
                if owner_side:
                    record.jobs.remove(jobid)
                else:
                    folding.mark_folded(record, jobid)
                self.index_end(record, job)
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
        if job.status == PROCESSING:
            if folding.unindexed(self, job):
                folding.index_claim(self, record, job)
            return
        record.jobs.remove(job.id)
        self.index_end(record, job)

    def running(self, record):
        """The ids of the jobs ``record``'s worker is running."""
        return [jobid for jobid in record.jobs.keys()
                if jobid in self.jobs
                and folding.runs_under(self.jobs[jobid], record)]

    def index_end(self, record, job):
        """Index the end of ``job``, which ``record`` lists: with its claim
        when that was deferred (straight from queued to its end)."""
        moved_from = PROCESSING
        if folding.unindexed(self, job):
            ended = job.status != PROCESSING
            folding.index_claim(self, record, job, ended=ended)
            if ended:
                moved_from = QUEUED
        self.index_finished(job, moved_from)

    def index_finished(self, job, moved_from=PROCESSING):
        """Move a finished job from 'processing' (or ``moved_from``, where
        the status sets have it) to its status in the indexes, with its
        finish time."""
        self.index.move(job.id, moved_from, job.status)
        self.index_completed(job)
        self.indexed(job, PROCESSING, job.status)
