"""Worker identity and records: what each worker (one processor thread of
one process) claimed, what it finished, and when it last showed it was
alive.

A record is private to its worker and written only in its claim
transactions (and by its heartbeat): the per-job transactions write only
the job.  The shared indexes catch up when the worker folds its finished
jobs in its next claim transaction (or when a sweeper folds them for a
worker that died).
"""
import os
import random
import socket

import persistent
from BTrees.LLBTree import LLTreeSet

_process_ids = {}  # pid -> this process's worker id


def process_worker_id():
    """This process's worker id: host, pid and a random part.

    Computed once per process, after a fork too (the cache is keyed by
    the pid): a forked child (a prefork WSGI server, a multiprocessing
    worker) never shares its parent's id, and so never owns its claims.
    """
    pid = os.getpid()
    worker_id = _process_ids.get(pid)
    if worker_id is None:
        worker_id = _process_ids[pid] = '%s:%d:%06x' % (
            socket.gethostname(), pid, random.SystemRandom().getrandbits(24))
    return worker_id


class WorkerRecord(persistent.Persistent):
    """One worker: its id, its last heartbeat and its claimed jobs.

    ``jobs`` holds the ids of the jobs it claimed and has not folded yet:
    those still ``processing`` run, the others finished.  The heartbeat
    lives on the record itself, a different object from ``jobs``.
    """

    def __init__(self, id, now):
        self.id = id
        self.started = now
        self.heartbeat = now
        self.jobs = LLTreeSet()

    def __repr__(self):
        return '<WorkerRecord %s>' % self.id

    def alive(self, now, lease_timeout):
        """Whether the worker sent a heartbeat within ``lease_timeout``."""
        return now - self.heartbeat <= lease_timeout

