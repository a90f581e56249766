"""Worker records: what each worker (one processor thread of one process)
claimed, what it finished, and when it last showed it was alive.

A record is private to its worker: the worker's per-job transactions write
only the job and its record's ``jobs`` tree, so workers never conflict
there.  The shared indexes catch up when the worker folds its finished
jobs in its next claim transaction (or when a sweeper folds them for a
worker that died).
"""
import persistent
from BTrees.LLBTree import LLBTree

#: States in ``WorkerRecord.jobs``.
RUNNING = 1
FINISHED = 2


class WorkerRecord(persistent.Persistent):
    """One worker: its id, its last heartbeat and its claimed jobs.

    ``jobs`` maps job id -> RUNNING (claimed, not finished) or FINISHED
    (finished, not yet folded into the service's indexes).  The heartbeat
    lives on the record itself, a different object from ``jobs``, so a
    heartbeat never conflicts with the worker's job transactions.
    """

    def __init__(self, id, now):
        self.id = id
        self.started = now
        self.heartbeat = now
        self.jobs = LLBTree()

    def __repr__(self):
        return '<WorkerRecord %s>' % self.id

    def alive(self, now, lease_timeout):
        """Whether the worker sent a heartbeat within ``lease_timeout``."""
        return now - self.heartbeat <= lease_timeout

    def running(self):
        return [jobid for jobid, state in self.jobs.items()
                if state == RUNNING]

    def finished(self):
        return [jobid for jobid, state in self.jobs.items()
                if state == FINISHED]
