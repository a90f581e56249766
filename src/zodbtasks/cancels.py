"""Cancelling running jobs and time limits.

A running job's transaction writes the job; a cancel request written on
the job would conflict with it.  So ``request`` stores the request in a
small tree of its own (``service._cancel_requests``: job id -> who asked)
and the running task looks for it at its checkpoints (``zodbtasks.task.
checkpoint`` and ``reportProgress``).  The task's own connection cannot
see what was committed after its transaction began, so ``requested``
reads the tree in a connection of its own, at most every
``CHECK_INTERVAL`` seconds per job.  The request is removed in the
transaction that records the job's end.  Nothing here reads the clock:
``now`` is passed in.
"""
import contextlib
import threading
import time

from BTrees.LOBTree import LOBTree
from zodbtasks import identity
from zodbtasks.transactions import own_connection
from zodbtasks.trees import made

#: Seconds between two looks at the requests for one running job.
CHECK_INTERVAL = 0.2

_last_look = {}
_lock = threading.Lock()
#: jobid -> when the job started, for the jobs of a group that run one
#: after the other in this thread (``running_from``).
_starts = threading.local()


def current_principal():
    """The id of the principal of the current interaction, or 'system'."""
    return identity.current_principal_id() or 'system'


def request(service, jobid, who):
    """Ask running job ``jobid`` to stop (the caller commits)."""
    made(service, '_cancel_requests', LOBTree)[jobid] = who


def requested_in(service, jobid):
    """Who asked to cancel ``jobid`` as ``service``'s connection sees it,
    or None."""
    tree = getattr(service, '_cancel_requests', None)
    return tree.get(jobid) if tree is not None else None


def forget(service, jobid):
    """The job ended: drop its request (writes only when there is one)."""
    tree = getattr(service, '_cancel_requests', None)
    if tree is not None and jobid in tree:
        del tree[jobid]


def requested(service, jobid, monotonic=time.monotonic):
    """Who asked to cancel running ``jobid``, as committed now, or None;
    looks at most every CHECK_INTERVAL seconds per job."""
    jar = service._p_jar
    if jar is None:
        return requested_in(service, jobid)
    job = service.jobs.get(jobid)
    # A request seen stays seen for this run only: a retried job runs
    # again, from another claim (another start time and attempt).
    key = (id(jar.db()), service._p_oid, jobid,
           (job.started, job.attempts) if job is not None else None)
    now = monotonic()
    with _lock:
        last = _last_look.get(key, -CHECK_INTERVAL)
        if isinstance(last, str):
            return last  # seen: it stays asked (a group runs jobs again)
        if now - last < CHECK_INTERVAL:
            return None
        _last_look[key] = now
        if len(_last_look) > 10000:
            _last_look.clear()
    with own_connection(jar.db()) as (connection, tm):
        with tm:
            who = requested_in(connection.get(service._p_oid), jobid)
    if who is not None:
        with _lock:
            _last_look[key] = who
    return who


def time_limit(job, task):
    """The job's time limit in seconds (its own, else its task's), or
    None."""
    limit = getattr(job, 'timeLimit', None)
    if limit is None:
        limit = getattr(task, 'timeLimit', None)
    return limit


@contextlib.contextmanager
def running_from(jobid, started):
    """While the block runs, job ``jobid`` (a member of a group whose
    jobs run one after the other) counts its time from ``started``, not
    from the group's claim."""
    starts = _starts.__dict__.setdefault('map', {})
    starts[jobid] = started
    try:
        yield
    finally:
        starts.pop(jobid, None)


def started_at(job):
    """When ``job``'s run started (its own start inside a group)."""
    return _starts.__dict__.get('map', {}).get(job.id, job.started)


def over_time_limit(job, task, now):
    """Whether running ``job`` ran longer than its limit at ``now``."""
    limit = time_limit(job, task)
    started = started_at(job)
    return limit is not None and started is not None \
        and now - started > limit
