"""JobIndex: the ids of a service's jobs by status, by task and by time,
so that listing, counting, filtering and sorting never load every job.

- ``by_status`` and ``by_task``: value -> IdSet of ids, with their counts
  in one ``Counts`` object (``len`` of a BTrees set walks all its buckets).
  Small sets keep the sentinel id 0 (see ``zodbtasks.trees``): removing
  the oldest id and adding a new one then merge instead of conflicting.
- ``started`` and ``completed``: TimeSets of (time, id) pairs, so that
  sorting by time and counting what finished per minute are range scans.

Design note: one writer per job changes a handful of buckets (its status
sets, its time entries); none of these is the service object, and adds
go to the last bucket of each tree, which BTrees' conflict resolution
merges.  A catalog (zope.catalog) was rejected: it indexes through
intids and events, costs several times the writes per job, and its text
and field indexes are not needed here.
"""
import itertools

import persistent
from BTrees.LLBTree import LLTreeSet
from BTrees.LLBTree import intersection
from BTrees.OOBTree import OOBTree

from zodbtasks import interfaces
from zodbtasks.interfaces import SORT_KEYS
from zodbtasks.keys import MAX_ID
from zodbtasks.trees import SENTINEL
from zodbtasks.trees import Counts
from zodbtasks.trees import IdSet
from zodbtasks.trees import TimeSet
from zodbtasks.trees import tune_sentinel



def descending(tree, low=None):
    """The keys of ``tree`` (a BTree or TreeSet of ints or of (time, id)
    pairs) from the greatest down to ``low``.

    Design note: ``reversed(tree.keys())`` loads every bucket of the tree
    before it yields (measured: 1,410 loads for 20 keys of 48,000); each
    ``maxKey(below)`` step walks one path from the root instead.
    """
    try:
        key = tree.maxKey()
    except ValueError:
        return
    while low is None or key >= low:
        yield key
        below = (key[0], key[1] - 1) if isinstance(key, tuple) else key - 1
        try:
            key = tree.maxKey(below)
        except ValueError:
            return


def ascending(tree, low=None):
    """The keys of ``tree`` from ``low`` (or the least) up."""
    return iter(tree.keys() if low is None else tree.keys(min=low))


class _Groups(persistent.Persistent):
    """value -> IdSet of ids, with their counts in one Counts object."""

    def __init__(self, values=()):
        self.sets = OOBTree()
        self.counts = Counts(values)
        for value in values:
            self._group(value)

    def _group(self, value):
        ids = self.sets.get(value)
        if ids is None:
            ids = self.sets[value] = IdSet((SENTINEL,))
        return ids

    def add(self, value, jobid):
        ids = self._group(value)
        if ids.add(jobid):
            self._changed(value, ids, 1)

    def remove(self, value, jobid):
        ids = self.sets.get(value)
        if ids is not None and jobid in ids:
            ids.remove(jobid)
            self._changed(value, ids, -1)

    def _changed(self, value, ids, delta):
        self.counts.change(value, delta)
        tune_sentinel(ids, self.counts.get(value))

    def ids(self, value, reverse=False):
        ids = self.sets.get(value)
        if ids is None:
            return iter(())
        return descending(ids, SENTINEL + 1) if reverse \
            else ascending(ids, SENTINEL + 1)

    def count(self, value):
        return self.counts.get(value)

    def values(self):
        return list(self.sets.keys())


class JobIndex(persistent.Persistent):
    """See the module docstring."""

    def __init__(self):
        self.by_status = _Groups(interfaces.STATUSES)
        self.by_task = _Groups()
        self.started = TimeSet()
        self.completed = TimeSet()

    # -- keeping it in step ---------------------------------------------------

    #: Tag -> ids of the jobs carrying it (made for the first tagged job:
    #: indexes of 0.1 have none).
    by_tag = None

    def add(self, job):
        self.by_status.add(job.status, job.id)
        self.by_task.add(job.task, job.id)
        if job.tags:
            if self.by_tag is None:
                self.by_tag = _Groups()
            for tag in job.tags:
                self.by_tag.add(tag, job.id)

    def remove(self, job):
        self.by_status.remove(job.status, job.id)
        self.by_task.remove(job.task, job.id)
        if job.tags and self.by_tag is not None:
            for tag in job.tags:
                self.by_tag.remove(tag, job.id)
        self.set_time(self.started, job.id, job.started, None)
        self.set_time(self.completed, job.id, job.completed, None)

    def move(self, jobid, old_status, new_status):
        self.by_status.remove(old_status, jobid)
        self.by_status.add(new_status, jobid)

    @staticmethod
    def set_time(tree, jobid, old, new):
        if old is not None and (old, jobid) in tree:
            tree.remove((old, jobid))
        if new is not None:
            tree.add((new, jobid))

    # -- reading ----------------------------------------------------------

    def count_by_status(self):
        return {status: self.by_status.count(status)
                for status in interfaces.STATUSES}

    def count_by_task(self):
        return {task: self.by_task.count(task)
                for task in self.by_task.values()}

    def tags(self):
        """The tags of the jobs, sorted."""
        return self.by_tag.values() if self.by_tag is not None else []

    def count_by_status_and_task(self, status, task):
        """How many jobs of ``task`` have ``status`` (an intersection of
        two sets: for operator views, not for claims)."""
        return self._filter(status, task)[1]

    def ids_by_status(self, status):
        return self.by_status.ids(status)

    def first_ids(self, statuses, limit):
        """Up to ``limit`` ids having one of ``statuses``, status by
        status, oldest first."""
        ids = []
        for status in statuses:
            for jobid in self.by_status.ids(status):
                if len(ids) >= limit:
                    return ids
                ids.append(jobid)
        return ids

    def query(self, jobs, status=None, task=None, sort_on='id',
              reverse=True, start=0, size=50, tag=None):
        """(total, ids of one page) of the jobs matching ``status``,
        ``task`` and ``tag`` (None: any), sorted on ``sort_on`` (one of
        SORT_KEYS)."""
        if sort_on not in SORT_KEYS:
            raise ValueError('cannot sort jobs on %r; sort on one of %s'
                             % (sort_on, ', '.join(SORT_KEYS)))
        candidates, total = self._filter(status, task, tag)
        ordered = self._ordered(jobs, candidates, sort_on, reverse)
        return total, list(itertools.islice(ordered, start, start + size))

    def finished_per_minute(self, now, minutes=60):
        """Jobs finished in each of the last ``minutes`` minutes before
        ``now``, oldest minute first."""
        counts = [0] * minutes
        since = now - 60 * minutes
        for when, _ in self.completed.keys(min=(since, 0),
                                           max=(now, MAX_ID)):
            slot = int((when - since) // 60)
            counts[min(slot, minutes - 1)] += 1
        return counts

    def _filter(self, status, task, tag=None):
        """(set of matching ids or None for all, how many match)."""
        groups = [(group, value) for group, value in (
            (self.by_status, status), (self.by_task, task),
            (self.by_tag or _Groups(), tag)) if value is not None]
        if not groups:
            return None, sum(self.count_by_status().values())
        empty = LLTreeSet()
        if len(groups) == 1:
            group, value = groups[0]
            return group.sets.get(value, empty), group.count(value)
        both = None
        for group, value in groups:
            ids = group.sets.get(value, empty)
            both = ids if both is None else intersection(both, ids)
        if SENTINEL in both:
            both.remove(SENTINEL)
        return both, len(both)

    def _ordered(self, jobs, candidates, sort_on, reverse):
        if sort_on == 'id':
            return _ids(jobs, candidates, reverse)
        if sort_on in ('status', 'task'):
            groups = self.by_status if sort_on == 'status' else self.by_task
            return self._by_groups(groups, candidates, reverse)
        return self._by_time(jobs, getattr(self, sort_on), candidates,
                             reverse)

    @staticmethod
    def _by_groups(groups, candidates, reverse):
        for value in sorted(groups.values(), reverse=reverse):
            for jobid in groups.ids(value, reverse):
                if candidates is None or jobid in candidates:
                    yield jobid

    @staticmethod
    def _by_time(jobs, tree, candidates, reverse):
        """Jobs having the time first (in time order), then the others in
        id order."""
        timed = set()
        for _, jobid in (descending(tree) if reverse else ascending(tree)):
            if candidates is None or jobid in candidates:
                timed.add(jobid)
                yield jobid
        for jobid in _ids(jobs, candidates, reverse):
            if jobid not in timed:
                yield jobid


def _ids(jobs, candidates, reverse):
    """Ids of all jobs, or of the candidates, in id order."""
    tree, low = (jobs, None) if candidates is None \
        else (candidates, SENTINEL + 1)
    return descending(tree, low) if reverse else ascending(tree, low)
