"""Who writes the shared indexes when several workers claim at once.

Design note (measured with ``bench/bench_zeo.py``, conflicts named by
structure): with several worker processes, claims conflicted less on the
ready queue than on the shared indexes that every claim and fold wrote:
the status sets (a claim removes the oldest queued ids, which are the
first keys of their buckets, and BTrees refuse to merge such a change
with another), the time sets and the dependency holders (appends that
split their last bucket).  Sharding the queue (``zodbtasks.shards``) does
not help there, so one worker at a time writes them for all:

- **Deferred claims.**  While other live workers hold jobs, a worker
  claims *plain* jobs without touching the index: the job says
  ``processing`` and the worker's record lists it in ``claims``; until a
  fold indexes it, the index still counts it as queued.  A claim then
  writes the jobs, the worker's shard of the queue and its record only.
- **The fold lease** (``FoldLease``, ``service._fold_lease``): every
  ``FOLD_INTERVAL`` each processor runs a short transaction
  (``IJobDispatch.foldAll``) in which the holder of the lease, or a
  worker that finds it free or expired (``FOLD_LEASE`` after the holder
  last folded), indexes every worker's deferred claims and plain ends;
  for the others it writes nothing.  The holder marks the ends it folded
  for another worker in that worker's ``folded`` set, and the worker
  drops them from its own record (only the owner changes ``jobs``).
- **Prompt jobs** are the jobs whose end must take effect at once for
  the semantics of dependencies, groups, chains, serialization, limits,
  tags and unique keys (``prompt``): they are claimed with their index
  entries and folded by their own worker in its next claim.
- **A lone worker** lets the ends of its plain jobs wait up to
  ``FOLD_INTERVAL`` (or until ``FOLD_BATCH`` wait) to fold them together
  in one of its claims: one job per transaction then costs three commits
  (the add, the claim, the run) instead of four, and the index writes of
  many ends are shared.  While its jobs are quick (it claims more than
  one at a time) it defers its plain claims too, and the fold moves each
  finished job straight from queued to its end (one move of the status
  sets instead of two); a claim of one job at a time (slow jobs,
  ``processNext()``) is indexed at once.  ``process()`` and
  ``processNext()`` still fold at their end.
- **Long jobs.**  A deferred claim whose job runs for ``SHOW_RUNNING``
  is indexed by its worker's heartbeat thread
  (``IJobDispatch.indexRunning``), so that the lists do not show a long
  job as queued; the counts show deferred claims as processing at once.

So the counts lag behind the jobs by about ``FOLD_INTERVAL`` with
several workers (up to ``FOLD_LEASE`` when the holder runs a long job or
died); the processors wake in time for it (``next_fold``).  Nothing here
commits or reads the clock.
"""
import persistent

from zodbtasks.interfaces import PROCESSING
from zodbtasks.interfaces import QUEUED
from zodbtasks.trees import SENTINEL
from zodbtasks.trees import IdSet
from zodbtasks.trees import made

#: Seconds the lease lasts after the holder last folded.
FOLD_LEASE = 1.0
#: Seconds between the holder's folds of the other workers' records, and
#: how long a lone worker lets its plain ends wait to fold them together.
FOLD_INTERVAL = 0.2
#: A lone worker folds its plain ends at once when this many wait.
FOLD_BATCH = 100
#: Seconds after which the heartbeat thread indexes the deferred claim of
#: a job that still runs (a long job must not look queued in the lists).
SHOW_RUNNING = 1.0


class FoldLease(persistent.Persistent):
    """Which worker folds for all (``owner``), until when."""

    owner = None
    until = 0.0
    #: When the holder last folded the other workers' records.
    last = 0.0

    def held_by(self, owner, now):
        return self.owner == owner and now < self.until

    def free_for(self, owner, now):
        return self.owner is None or self.owner == owner \
            or now >= self.until


def lease(service):
    return made(service, '_fold_lease', FoldLease)


def peek_lease(service):
    return getattr(service, '_fold_lease', None)


def prompt(maps, job):
    """Whether ``job``'s fold must not wait for the lease holder."""
    return bool(job.watched or job.then is not None
                or job.group is not None or job.callbackOf is not None
                or job.uniqueKey is not None or job.tags
                or maps.holds.ends_batch(job))


def may_defer(maps, job):
    """Whether a claim of ``job`` may leave the index as it is: a plain
    job claimed for the first time (its index entries are those of a new
    queued job)."""
    return job.status == QUEUED and job.started is None \
        and job.completed is None and not prompt(maps, job)


def _marks(record, name, make=False):
    """``record``'s set ``name`` (made with the sentinel on first use: the
    owner and the holder both change it, and the sentinel keeps their
    changes mergeable, see ``zodbtasks.trees``)."""
    marks = getattr(record, name, None)
    if marks is None and make:
        marks = IdSet((SENTINEL,))
        setattr(record, name, marks)
    return marks


def _ids(marks):
    return [] if marks is None else list(marks.keys(min=SENTINEL + 1))


def claims_of(record):
    """The ids ``record``'s worker claimed without indexing them."""
    return _ids(_marks(record, 'claims'))


def deferred_claims(service):
    """The ids of every worker's deferred claims (``service``'s)."""
    workers = getattr(service, '_workers', None)
    return [jobid for record in workers.values()
            for jobid in claims_of(record)] if workers else []


def listed_ids(record):
    """The ids of ``record``'s claims and jobs (to load them in one go)."""
    return claims_of(record) + list(record.jobs.keys())


def defer(record, job):
    _marks(record, 'claims', make=True).add(job.id)


def unindexed(maps, job):
    """Whether ``job`` was claimed and its claim is not indexed yet."""
    record = maps.workers.get(job.owner) if job.owner else None
    claims = _marks(record, 'claims') if record is not None else None
    return claims is not None and job.id in claims


def runs_under(job, record):
    """Whether ``job`` runs under ``record``'s worker (not finished, nor
    claimed again by another worker since)."""
    return job.status == PROCESSING and job.owner == record.id


def index_claim(maps, record, job, ended=False):
    """Index ``job``'s deferred claim (queued -> processing, its start);
    with ``ended`` (its job finished since) the status sets are left to
    the caller, which moves it from queued to its end at once
    (``JobMaps.index_end``: one move instead of two)."""
    _marks(record, 'claims').remove(job.id)
    index = maps.index
    if not ended:
        index.move(job.id, QUEUED, PROCESSING)
    index.set_time(index.started, job.id, None, job.started)
    maps.indexed(job, QUEUED, PROCESSING)


def busy(record):
    """Whether ``record`` lists jobs (a worker with none claims nothing
    now: it does not compete)."""
    return bool(record.jobs) or bool(claims_of(record))


def index_claims(maps, record, skip=()):
    """Index the deferred claims of ``record`` whose jobs still run, but
    those in ``skip`` (claimed in this transaction); return how many.  The
    claims of jobs that finished are indexed with their ends
    (``JobMaps.index_end``)."""
    for jobid in claims_of(record):
        if jobid not in maps.jobs:
            _marks(record, 'claims').remove(jobid)  # deleted meanwhile
    running = [job for job in running_claims(maps, record)
               if job.id not in skip]
    for job in running:
        index_claim(maps, record, job)
    return len(running)


def running_claims(maps, record, before=None):
    """The jobs of ``record``'s deferred claims that run under it (and,
    with ``before``, started at or before it: a long job should not look
    queued in the lists)."""
    found = []
    for jobid in claims_of(record):
        job = maps.jobs.get(jobid)
        if job is not None and runs_under(job, record) and (
                before is None or (job.started is not None
                                   and job.started <= before)):
            found.append(job)
    return found


def mark_folded(record, jobid):
    """The holder indexed ``jobid``'s end for ``record``'s worker, which
    drops it from its record at its next claim (``prune``): only the
    owner changes ``record.jobs``."""
    _marks(record, 'folded', make=True).add(jobid)


def is_folded(record, jobid):
    folded = _marks(record, 'folded')
    return folded is not None and jobid in folded


def prune(record):
    """The owner drops what the holder folded for it from its record."""
    folded = _marks(record, 'folded')
    for jobid in _ids(folded):
        if jobid in record.jobs:
            record.jobs.remove(jobid)
        folded.remove(jobid)


def take(service, owner, now):
    """Whether ``owner`` holds the fold lease at ``now`` or may take it
    (free or expired); writes nothing."""
    current = peek_lease(service)
    return current is None or current.free_for(owner, now)


def renew(service, owner, now):
    """``owner`` folded at ``now``: it holds the lease until FOLD_LEASE
    from now (written only when that moves it by a tenth of a lease, so a
    busy holder writes the lease seldom)."""
    current = lease(service)
    if current.owner != owner or current.until < now + FOLD_LEASE * 0.9:
        current.owner = owner
        current.until = now + FOLD_LEASE


def others_due(service, now):
    current = peek_lease(service)
    return current is None or now - current.last >= FOLD_INTERVAL


def folded_others(service, now):
    lease(service).last = now


def waiting_work(maps, record):
    """Whether ``record`` lists claims or plain finished jobs for the
    holder to fold."""
    if claims_of(record):
        return True
    for jobid in record.jobs.keys():
        job = maps.jobs.get(jobid)
        if job is not None and job.status != PROCESSING \
                and not is_folded(record, jobid) and not prompt(maps, job):
            return True
    return False


def _ends(maps, record):
    """(how many, the earliest finish time) of ``record``'s finished jobs
    that wait for a fold (a gone job or one without a finish time counts
    as finished long ago)."""
    count, earliest = 0, None
    for jobid in record.jobs.keys():
        job = maps.jobs.get(jobid)
        if job is not None and (job.status == PROCESSING
                                or is_folded(record, jobid)):
            continue
        count += 1
        when = job.completed if job is not None and job.completed \
            is not None else 0.0
        earliest = when if earliest is None else min(earliest, when)
    return count, earliest


def own_due(maps, record, now, idle=False):
    """Whether a lone worker folds its plain ends now (else they wait,
    to be folded together: see ``zodbtasks.folding``): FOLD_BATCH wait,
    or the earliest ended FOLD_INTERVAL ago (twice that in a claim that
    claimed nothing: its processor comes back for them then, and a claim
    of the next job in between folds them without a commit of its
    own)."""
    count, earliest = _ends(maps, record)
    wait = FOLD_INTERVAL * (2 if idle else 1)
    return count >= FOLD_BATCH or (
        earliest is not None and now - earliest >= wait)


def next_fold(maps, owner, now):
    """When ``owner``'s processor should look again so that no fold
    waits longer than it should, or None."""
    mine = maps.workers.get(owner)
    others = [record for key, record in maps.workers.items()
              if key != owner]
    if not others:
        if mine is None:
            return None
        # twice the interval: a claim in between folds them (no commit
        # of its own) when jobs keep coming
        earliest = _ends(maps, mine)[1]
        return None if earliest is None else earliest + 2 * FOLD_INTERVAL
    current = peek_lease(maps.service)
    if current is not None and current.held_by(owner, now):
        if any(waiting_work(maps, record) for record in others + [mine]
               if record is not None):
            return current.last + FOLD_INTERVAL
        return None
    if mine is not None and waiting_work(maps, mine):
        return current.until if current is not None else now
    return None
