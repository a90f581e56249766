"""Worker identity and records: what each worker (one processor thread of
one process) claimed, what it finished, and when it last showed it was
alive.

A record is private to its worker and written only in its claim
transactions (and by its heartbeat): the per-job transactions write only
the job.  The shared indexes catch up when the worker folds its finished
jobs in its next claim transaction (or when a sweeper folds them for a
worker that died).

A worker's id starts with its process's id, ``worker_id()``: computed in
each process, so that a forked child (a prefork WSGI server, a
multiprocessing worker) never shares its parent's id -- two live processes
with one id would own each other's claims.
"""
import os
import random
import socket

import persistent
from BTrees.LLBTree import LLTreeSet

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


_identity = (None, None)  # (pid, worker id) of the process that made it


def worker_id():
    """This process's worker id: host, pid and a random part, made once
    per process (again after a fork, in the child)."""
    global _identity
    pid, identity = _identity
    if pid != os.getpid():
        pid = os.getpid()
        identity = '%s:%d:%06x' % (socket.gethostname(), pid,
                                   random.getrandbits(24))
        _identity = (pid, identity)
    return identity
