"""Tallies: how many jobs two values of the job index have in common,
kept as the index's sets change, so that the Jobs tab's total for a task
and a status, and the Overview's waiting jobs per priority, are read
instead of counted (issue 10).

A ``Tally`` pairs two ``index._Groups`` families, its rows and its
columns (the statuses): ``tally.count(row, status)`` is how many ids are
both in the row's set and in the status's set.  The index has two:

- ``task_tally``: rows are the tasks (``by_task``);
- ``priority_tally``: rows are the priorities other than 0
  (``by_priority``, which holds only the jobs of those priorities: most
  jobs have priority 0, whose counts are the statuses' counts minus the
  other rows).

Both families tell a tally of each id added to or removed from one of
their sets (``_Groups.listeners``), and the tally finds the id's value in
the other family by looking in that family's sets, the largest first,
after the value it last found for the id (kept in memory only).  So a
tally is right after any sequence of changes of the sets, whoever makes
them: the index's add, remove and move, ``JobMaps.change_task``, the
repairs of ``rebuildIndex``.

Design notes (figures: bench/bench_ui.py and bench/bench_writes.py):

- The index is told ids only, not jobs, when a status changes
  (``JobIndex.move(jobid, old, new)`` from ``zodbtasks.jobmaps``), hence
  the look-ups: a few C membership tests on sets the caller has just
  touched.  If ``move`` got the job, the look-ups could go.
- Counts and not a set of ids per (task, status): a set per pair would
  make any task and status filter a walk of its own set, rare pairs too,
  but every status change would write two more set buckets.  A row is
  one small record (a tuple of counts, about 120 bytes with its header)
  per task changed in a transaction.
- An index made before tallies gets them on first use (``task_tally``,
  ``priority_tally``): the rows from intersections of the sets (no job is
  read), the priority sets from the jobs that are not completed (a
  completed job of such an index counts as priority 0 if it is retried).
  Changes that other processes commit while they are made are not in
  them; ``problems`` finds that (``checkIndex``: the rows must be the
  counts of the sets' intersections), and ``rebuildIndex`` counts them
  again.
"""
import itertools

import persistent
from BTrees.LLBTree import intersection
from BTrees.LLBTree import multiunion
from BTrees.OOBTree import OOBTree

from zodbtasks.interfaces import COMPLETED
from zodbtasks.interfaces import STATUSES
from zodbtasks.trees import SENTINEL

#: Status -> its position in a row (append only, as STATUSES).
_POSITIONS = {status: number for number, status in enumerate(STATUSES)}
#: How many ids each family remembers the value of.
MEMO_SIZE = 20000


class Row(persistent.Persistent):
    """The counts of one row value, by status (stored as a tuple in the
    order of STATUSES)."""

    def __init__(self, counts=()):
        self.counts = tuple(counts) or (0,) * len(STATUSES)

    def __getstate__(self):
        return self.counts

    def __setstate__(self, state):
        self.counts = tuple(state)

    def get(self, status):
        position = _POSITIONS[status]
        return self.counts[position] if position < len(self.counts) else 0

    def change(self, status, delta):
        counts = list(self.counts)
        counts.extend([0] * (len(STATUSES) - len(counts)))
        counts[_POSITIONS[status]] += delta
        self.counts = tuple(counts)

    def total(self):
        return sum(self.counts)

    def _p_resolveConflict(self, old, committed, new):
        """Add both transactions' changes, as ``trees.Counts`` does."""
        return tuple(c + n - o for o, c, n in itertools.zip_longest(
            old, committed, new, fillvalue=0))


class Tally(persistent.Persistent):
    """See the module docstring."""

    def __init__(self, rows, columns):
        self.rows = rows
        self.columns = columns
        self.table = OOBTree()

    def count(self, row, status):
        found = self.table.get(row)
        return found.get(status) if found is not None else 0

    def items(self):
        """(row value, Row) pairs."""
        return self.table.items()

    def changed(self, groups, value, jobid, delta):
        """``jobid`` was added to (``delta`` 1) or removed from (-1) the
        set of ``value`` of ``groups``, one of the tally's families."""
        if groups is self.columns:
            row, column = find(self.rows, jobid), value
        else:
            row, column = value, find(self.columns, jobid)
        if row is None or column is None:
            return
        found = self.table.get(row)
        if found is None:
            found = self.table[row] = Row()
        found.change(column, delta)

    def fill(self):
        """Count every row again from the sets."""
        for value, counts in self.counted().items():
            self.table[value] = Row(counts)

    def counted(self):
        """row value -> counts by status, from the sets (intersections in
        memory: each set's buckets are read once)."""
        columns = {status: multiunion([ids]) for status, ids
                   in self.columns.sets.items()}
        found = {}
        for value, ids in self.rows.sets.items():
            own = multiunion([ids])
            found[value] = tuple(_common(own, columns.get(status))
                                 for status in STATUSES)
        return found


def _common(one, other):
    if other is None:
        return 0
    both = intersection(one, other)
    return len(both) - (SENTINEL in both)


# -- finding the value of an id ------------------------------------------------

def remember(groups, value, jobid, delta):
    """Keep (or forget) which set of ``groups`` holds ``jobid``."""
    memo = _memo(groups)
    if delta > 0:
        if len(memo) >= MEMO_SIZE:
            memo.clear()
        memo[jobid] = value
    else:
        memo.pop(jobid, None)


def find(groups, jobid):
    """The value of ``groups`` whose set holds ``jobid``, or None."""
    memo = _memo(groups)
    value = memo.get(jobid)
    sets = groups.sets
    if value is not None:
        ids = sets.get(value)
        if ids is not None and jobid in ids:
            return value
    for value in _largest_first(groups):
        ids = sets.get(value)
        if ids is not None and jobid in ids:
            memo[jobid] = value
            return value
    return None


def _memo(groups):
    memo = getattr(groups, '_v_tally_memo', None)
    if memo is None:
        memo = groups._v_tally_memo = {}
    return memo


def _largest_first(groups):
    order = getattr(groups, '_v_tally_order', None)
    if order is None or len(order) != len(groups.counts.counts):
        order = [value for value, _ in sorted(
            groups.counts.items(), key=lambda item: -item[1])]
        groups._v_tally_order = order
    return order


# -- made on first use, checked ------------------------------------------------

def listen(groups, tally):
    if tally not in groups.listeners:
        groups.listeners = tuple(groups.listeners) + (tally,)


def start(rows, columns, fill=True, stored=True):
    """A tally of ``rows`` by ``columns`` (filled from their sets unless
    ``fill`` is false: they are new and empty) that they keep up to date
    when ``stored`` (else it is only counted: a read-only connection)."""
    tally = Tally(rows, columns)
    if fill:
        tally.fill()
    if stored:
        listen(rows, tally)
        listen(columns, tally)
    return tally


def priorities_of_jobs(groups, index, jobs):
    """Fill ``groups`` (new, not listened to) with the ids of the jobs
    that are not completed and have a priority other than 0."""
    for status in STATUSES:
        if status == COMPLETED:
            continue
        for jobid in index.ids_by_status(status):
            job = jobs.get(jobid)
            if job is not None and job.priority:
                groups.add(job.priority, jobid)


def problems(tally, name, repair):
    """The rows of ``tally`` that differ from the counts of its sets'
    intersections (``name``: what its rows are, for the messages); with
    ``repair``, count them again."""
    found = []
    expected = tally.counted()
    for value in sorted(set(expected) | set(tally.table.keys()), key=repr):
        row = tally.table.get(value)
        counts = tuple(row.get(status) for status in STATUSES) \
            if row is not None else (0,) * len(STATUSES)
        if counts != expected.get(value, (0,) * len(STATUSES)):
            found.append('%s tally of %r is %s, its sets hold %s' % (
                name, value, _shown(counts),
                _shown(expected.get(value, ()))))
    if found and repair:
        for value in list(tally.table.keys()):
            if value not in expected:
                del tally.table[value]
        tally.fill()
    return found


def _shown(counts):
    return ', '.join('%s %d' % (status, count) for status, count
                     in zip(STATUSES, counts) if count) or 'nothing'
