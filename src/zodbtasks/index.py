"""JobIndex: the ids of a service's jobs by status, by task and by time,
so that listing, counting, filtering and sorting never load every job.

- ``by_status`` and ``by_task``: value -> IdSet of ids, with their counts
  in one ``Counts`` object (``len`` of a BTrees set walks all its buckets).
  Small sets keep the sentinel id 0 (see ``zodbtasks.trees``): removing
  the oldest id and adding a new one then merge instead of conflicting.
- ``started`` and ``completed``: TimeSets of (time, id) pairs, so that
  sorting by time and counting what finished per minute are range scans.
- ``by_tag``, and ``by_priority`` (the jobs of priorities other than 0),
  value -> IdSet as the first two; ``task_tally`` and ``priority_tally``:
  how many jobs of each task and of each priority have each status
  (``zodbtasks.tallies``).  Pages of the Jobs tab: ``zodbtasks.listing``.

Design note: one writer per job changes a handful of buckets (its status
sets, its time entries); none of these is the service object, and adds
go to the last bucket of each tree, which BTrees' conflict resolution
merges.  A catalog (zope.catalog) was rejected: it indexes through
intids and events, costs several times the writes per job, and its text
and field indexes are not needed here.
"""
import itertools

import persistent
from BTrees.OOBTree import OOBTree

from zodbtasks import interfaces
from zodbtasks import listing
from zodbtasks import tallies
from zodbtasks.interfaces import SORT_KEYS
from zodbtasks.keys import MAX_ID
from zodbtasks.trees import SENTINEL
from zodbtasks.trees import Counts
from zodbtasks.trees import IdSet
from zodbtasks.trees import TailIdSet
from zodbtasks.trees import TimeSet
from zodbtasks.trees import tune_sentinel
from zodbtasks.listing import ascending
from zodbtasks.listing import descending


class _Groups(persistent.Persistent):
    """value -> IdSet of ids, with their counts in one Counts object."""

    #: Tallies told of every id added to or removed from a set (see
    #: ``zodbtasks.tallies``; groups made before tallies have none).
    listeners = ()
    #: The class of the sets made for new values (``TailIdSet`` for the
    #: groups made since 0.2 whose sets grow one job at a time).
    set_class = IdSet

    def __init__(self, values=(), set_class=None):
        self.sets = OOBTree()
        self.counts = Counts(values)
        if set_class is not None:
            self.set_class = set_class
        for value in values:
            self._group(value)

    def _group(self, value):
        ids = self.sets.get(value)
        if ids is None:
            ids = self.sets[value] = self.set_class((SENTINEL,))
        return ids

    def add(self, value, jobid):
        ids = self._group(value)
        if ids.add(jobid):
            self._changed(value, ids, jobid, 1)

    def remove(self, value, jobid):
        ids = self.sets.get(value)
        if ids is not None and jobid in ids:
            ids.remove(jobid)
            self._changed(value, ids, jobid, -1)

    def _changed(self, value, ids, jobid, delta):
        self.counts.change(value, delta)
        tune_sentinel(ids, self.counts.get(value))
        if self.listeners:
            tallies.remember(self, value, jobid, delta)
            for tally in self.listeners:
                tally.changed(self, value, jobid, delta)

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


def tail_groups():
    """Groups whose sets grow at their end one job at a time (by task, tag
    or priority): their sets are TailIdSets (``zodbtasks.trees``)."""
    return _Groups(set_class=TailIdSet)


class JobIndex(persistent.Persistent):
    """See the module docstring."""

    #: Tag -> ids of the jobs carrying it (made for the first tagged job:
    #: indexes of 0.1 have none).
    by_tag = None
    #: Priority other than 0 -> ids, and the tallies of tasks and of
    #: priorities by status (``zodbtasks.tallies``): indexes made before
    #: them get them on first use (``tally_of_tasks``,
    #: ``tally_of_priorities``).
    by_priority = None
    task_tally = None
    priority_tally = None

    def __init__(self):
        self.by_status = _Groups(interfaces.STATUSES)
        self.by_task = tail_groups()
        self.started = TimeSet()
        self.completed = TimeSet()
        self.by_priority = tail_groups()
        self.task_tally = tallies.start(self.by_task, self.by_status,
                                        fill=False)
        self.priority_tally = tallies.start(self.by_priority,
                                            self.by_status, fill=False)

    # -- keeping it in step ---------------------------------------------------

    def add(self, job):
        self.by_status.add(job.status, job.id)
        self.by_task.add(job.task, job.id)
        if job.priority and self.by_priority is not None:
            self.by_priority.add(job.priority, job.id)
        if job.tags:
            if self.by_tag is None:
                self.by_tag = tail_groups()
            for tag in job.tags:
                self.by_tag.add(tag, job.id)

    def remove(self, job):
        self.by_status.remove(job.status, job.id)
        self.by_task.remove(job.task, job.id)
        if job.priority and self.by_priority is not None:
            self.by_priority.remove(job.priority, job.id)
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

    def tags(self, limit=None):
        """The tags of the jobs, sorted (the first ``limit`` of them)."""
        if self.by_tag is None:
            return []
        return list(itertools.islice(self.by_tag.sets.keys(), limit))

    def count_by_status_and_task(self, status, task):
        """How many jobs of ``task`` have ``status`` (the task tally)."""
        return self.tally_of_tasks().count(task, status)

    def count_by_priority(self, jobs, statuses=None):
        """priority -> how many jobs have it and are neither processing
        nor completed (or have one of ``statuses``; only priorities some
        have); ``jobs`` (the service's) are read once, when the priority
        tally is made."""
        tally = self.tally_of_priorities(jobs)
        if statuses is None:
            statuses = [status for status in interfaces.STATUSES
                        if status not in (interfaces.PROCESSING,
                                          interfaces.COMPLETED)]
        rest = sum(self.by_status.count(status) for status in statuses)
        counts = {}
        for priority, row in tally.items():
            count = sum(row.get(status) for status in statuses)
            if count:
                counts[priority] = count
                rest -= count
        if rest > 0:
            counts[0] = rest
        return dict(sorted(counts.items()))

    # -- tallies, made on first use -----------------------------------------

    def tally_of_tasks(self):
        """The task tally (``zodbtasks.tallies``), made on first use."""
        if self.task_tally is not None:
            return self.task_tally
        if self._read_only():
            return tallies.start(self.by_task, self.by_status, stored=False)
        self.task_tally = tallies.start(self.by_task, self.by_status)
        return self.task_tally

    def tally_of_priorities(self, jobs):
        """The priority tally, made on first use (its sets from the jobs
        that are not completed: see ``zodbtasks.tallies``)."""
        if self.priority_tally is not None:
            return self.priority_tally
        groups = tail_groups()
        tallies.priorities_of_jobs(groups, self, jobs)
        if self._read_only():
            return tallies.start(groups, self.by_status, stored=False)
        self.by_priority = groups
        self.priority_tally = tallies.start(groups, self.by_status)
        return self.priority_tally

    def _read_only(self):
        jar = self._p_jar
        return jar is not None and jar.isReadOnly()

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
        SORT_KEYS); see ``zodbtasks.listing``."""
        if sort_on not in SORT_KEYS:
            raise ValueError('cannot sort jobs on %r; sort on one of %s'
                             % (sort_on, ', '.join(SORT_KEYS)))
        selection = listing.Selection(self, jobs, {
            family: value for family, value in (
                ('status', status), ('task', task), ('tag', tag))
            if value is not None})
        return selection.total, listing.page(selection, sort_on, reverse,
                                             start, size)

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
