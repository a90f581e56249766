"""Dependencies: jobs that wait for other jobs (``after``), for the jobs
carrying a tag (``afterTag``) or for the jobs of a task (``afterTask``).

``Dependencies(maps)`` is a view over what the service stores for them
(made on first use: services of 0.1 have none of it):

- ``_holders``: what holds each key while it is *live* (waiting, blocked
  or running): ('tag', name) and ('task', name) -> ids (index._Groups);
- ``_failed_holders``: the same for jobs that ended in ``error`` or were
  ``cancelled`` (they hold until deleted or retried to success, as in
  CMFActivity, for dependents whose ``onDependencyFailure`` is 'wait');
- ``_watchers``: LOBTree job id -> IdSet of the blocked jobs watching it;
- ``_releasing``: LOBTree job id -> (cursor, cause): watched jobs that
  stopped holding, whose watchers still have to be looked at.

Design note (why one watched job, and why it is written): a blocked job
is never in the ready queue, so claiming never scans it.  It watches
exactly one job that blocks it, the first found in the order ``after``,
``afterTag``, ``afterTask`` (for a tag or task, the newest holder, which
usually ends last).  Registering writes the watched job (``watched``):
the watched job's own status changes write it too, so the two conflict
and one of them retries, and the status change that follows always sees
the flag (``Job._p_resolveConflict`` merges the flag with a change that
came after it, never with a status change that came before).  When the
watched job stops holding (in the transaction that folds or changes it),
its watchers are looked at again in that transaction, up to a budget;
the rest stay in ``_releasing``, which every claim and sweep continues:
the work cannot be lost, and a watcher is released once, since releasing
it writes it.  Nothing here scans the blocked jobs.

The job-state layer (``zodbtasks.jobmaps``) calls ``changed`` whenever a
job's indexed status changes; nothing here commits or reads the clock.
"""
from BTrees.LOBTree import LOBTree

from zodbtasks.index import _Groups
from zodbtasks.interfaces import BLOCKED
from zodbtasks.interfaces import CANCELLED
from zodbtasks.interfaces import COMPLETED
from zodbtasks.interfaces import CRONJOB
from zodbtasks.interfaces import ERROR
from zodbtasks.interfaces import STATUSES
from zodbtasks.trees import IdSet
from zodbtasks.trees import made

LIVE, FAILED = 'live', 'failed'
#: How many watchers one transaction looks at (the rest: later ones).
RELEASE_BATCH = 100
#: How many candidates a check looks at per tag or task: jobs that
#: finished but are not folded yet are skipped.
CANDIDATES = 200

#: Verdicts of ``evaluate``.
READY, WAITS, CANCEL = 'ready', 'waits', 'cancel'


def hold_class(job, status):
    """LIVE, FAILED or None: how a job in ``status`` holds its tags and
    task.  A repeating cron job holds them only while it runs."""
    if status is None or status in (COMPLETED, CRONJOB):
        return None
    if status in (ERROR, CANCELLED):
        return FAILED
    return LIVE


def has_dependencies(job):
    return bool(job.after or job.afterTag or job.afterTask)


def describe(job, key=None, ending=None):
    """'job 12' / "job 12 tagged 'x'" / "job 12 of task 'mail'", and how it
    ended, for wait reasons and cancellations."""
    text = 'job %s' % job.id
    if key is not None and key[0] == 'tag':
        text += ' tagged %r' % key[1]
    elif key is not None and key[0] == 'task':
        text += ' of task %r' % key[1]
    if ending:
        text += ' that it waited for ' + ending
    return text


def ending_of(status):
    return 'ended in error' if status == ERROR else 'was cancelled'


class Dependencies:
    """See the module docstring."""

    def __init__(self, maps):
        self.maps = maps
        self.service = maps.service
        self.jobs = maps.jobs

    # -- the stored parts, made on first use -----------------------------

    @property
    def holders(self):
        if getattr(self.service, '_holders', None) is None:
            self._build_holders()
        return self.service._holders

    @property
    def failed(self):
        if getattr(self.service, '_failed_holders', None) is None:
            self._build_holders()
        return self.service._failed_holders

    def indexed(self):
        """Whether the holders are indexed yet (a service of 0.1 gets its
        holder sets at its first change)."""
        return getattr(self.service, '_holders', None) is not None

    def _build_holders(self):
        """Index the holders of a service made before dependencies (its
        jobs have no tags: only their tasks hold)."""
        live, failed = _Groups(), _Groups()
        index = self.maps.index
        for status in STATUSES:
            kind = hold_class(None, status)
            if kind is None:
                continue
            groups = live if kind == LIVE else failed
            for jobid in index.ids_by_status(status):
                job = self.jobs.get(jobid)
                if job is not None:
                    groups.add(('task', job.task), jobid)
        self.service._holders = live
        self.service._failed_holders = failed

    @property
    def watchers(self):
        return made(self.service, '_watchers', LOBTree)

    @property
    def releasing(self):
        return made(self.service, '_releasing', LOBTree)

    def pending(self):
        """Whether watchers are left to look at."""
        tree = getattr(self.service, '_releasing', None)
        return bool(tree)

    # -- holders ---------------------------------------------------------

    @staticmethod
    def keys_of(job):
        return [('tag', tag) for tag in job.tags] + [('task', job.task)]

    def changed(self, job, old, new):
        """``job``'s indexed status goes from ``old`` to ``new`` (None: the
        job is new, or removed)."""
        before, after = hold_class(job, old), hold_class(job, new)
        if old == BLOCKED and new != BLOCKED:
            self.unwatch(job)
        if before == after:
            return
        for key in self.keys_of(job):
            if before is not None:
                (self.holders if before == LIVE else self.failed).remove(
                    key, job.id)
            if after is not None:
                (self.holders if after == LIVE else self.failed).add(
                    key, job.id)
        if before is not None and after != LIVE and job.watched:
            cause = 'was deleted' if new is None and before == LIVE \
                else None
            self.releasing[job.id] = (0, cause)

    # -- checking a job's dependencies -----------------------------------

    def evaluate(self, job, update=True):
        """(verdict, detail): READY; WAITS and the blocking job (with the
        key it holds, or None for ``after``); CANCEL and the reason.
        With ``update``, remember how many of ``after`` are done."""
        policy = job.onDependencyFailure
        cursor = job.afterCursor
        for position in range(cursor, len(job.after)):
            other = self.jobs.get(job.after[position])
            kind = hold_class(other, other.status) if other is not None \
                else None
            if kind is None or (kind == FAILED and policy == 'run'):
                if position == cursor:
                    cursor += 1
                continue
            if kind == FAILED and policy == 'cancel':
                return CANCEL, describe(other, None, ending_of(other.status))
            if update and cursor != job.afterCursor:
                job.afterCursor = cursor
            return WAITS, (other, None)
        if update and cursor != job.afterCursor:
            job.afterCursor = cursor
        for key in [('tag', tag) for tag in job.afterTag] + \
                [('task', task) for task in job.afterTask]:
            other = self._holder(self.holders, key, job, LIVE)
            if other is not None:
                return WAITS, (other, key)
            if policy == 'run':
                continue
            other = self._holder(self.failed, key, job, FAILED)
            if other is not None:
                if policy == 'cancel':
                    return CANCEL, describe(other, key,
                                            ending_of(other.status))
                return WAITS, (other, key)
        return READY, None

    def _holder(self, groups, key, job, kind):
        """The newest job other than ``job`` that holds ``key`` as
        ``kind`` by its actual status (the index lags behind finished
        jobs until they are folded), or None."""
        for count, jobid in enumerate(groups.ids(key, reverse=True)):
            if count >= CANDIDATES:
                break
            other = self.jobs.get(jobid)
            if jobid != job.id and other is not None \
                    and hold_class(other, other.status) == kind:
                return other
        return None

    def count_holders(self, key, job):
        """How many jobs other than ``job`` hold ``key`` (by the index)."""
        count = self.holders.count(key) + self.failed.count(key)
        return count - (1 if key in self.keys_of(job) else 0)

    # -- blocking and releasing ----------------------------------------

    def watch(self, job, other):
        """Let blocked ``job`` watch ``other`` (see the design note)."""
        self.unwatch(job)
        other.watched = True  # written even when set: see the design note
        watchers = self.watchers.get(other.id)
        if watchers is None:
            watchers = self.watchers[other.id] = IdSet()
        watchers.add(job.id)
        job.waitsOn = other.id

    def unwatch(self, job):
        if job.waitsOn is None:
            return
        watchers = self.watchers.get(job.waitsOn)
        if watchers is not None and job.id in watchers:
            watchers.remove(job.id)
        job.waitsOn = None

    def watchers_of(self, jobid):
        """The ids of the blocked jobs watching ``jobid``."""
        watchers = getattr(self.service, '_watchers', None)
        watchers = watchers.get(jobid) if watchers is not None else None
        return list(watchers) if watchers is not None else []

    def work(self, budget, settle):
        """Look at up to ``budget`` watchers of jobs that stopped holding;
        ``settle(job, verdict, detail, cause)`` releases, cancels or
        re-blocks each.  Returns how many were looked at."""
        done = 0
        releasing = self.releasing
        while done < budget and releasing:
            jobid = releasing.minKey()
            cursor, cause = releasing[jobid]
            watchers = self.watchers.get(jobid)
            room = budget - done
            ids = [] if watchers is None else list(
                _first(watchers.keys(min=cursor), room))
            for watcher in ids:
                watchers.remove(watcher)
                job = self.jobs.get(watcher)
                if job is None or job.status != BLOCKED \
                        or job.waitsOn != jobid:
                    continue
                job.waitsOn = None
                verdict, detail = self.evaluate(job)
                settle(job, verdict, detail, cause and (
                    'job %s that it waited for %s' % (jobid, cause)))
            done += len(ids)
            if len(ids) < room:
                del releasing[jobid]
                if watchers is not None and not watchers:
                    del self.watchers[jobid]
            else:
                releasing[jobid] = (ids[-1] + 1, cause)
        return done


def _first(iterable, count):
    for number, item in enumerate(iterable):
        if number >= count:
            return
        yield item
