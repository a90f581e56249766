"""Pages of jobs: the ids of one page of the jobs matching a filter, in a
sort order (``JobIndex.query``, the Jobs tab).

A ``Selection`` is the ids in every set of a filter (status, task, tag):
it knows how many there are without intersecting the sets when it can
(one filter: that set's count; a task and a status: the task tally of
``zodbtasks.tallies``), and walks them in id order by jumps from set to
set (``leapfrog``).  A page then takes the ids from the
start of the order it is sorted in, or, past the middle, from the other
end (the order reversed, and the page reversed back), so the last page
costs what the first does.

Design note (figures of bench/bench_ui.py, 1,000,000 jobs): walking from
the start to the last page read 3,430 objects at 100,000 jobs (288 ms);
intersecting a task's and a status's sets to count and list them read
3,222 (64 ms), about ten times that at a million.  A walk by jumps costs
one path per alternation between ids the sets share and ids they do
not: cheap for common pairs and for long runs, long only for sets that
share few ids scattered among many (a set per pair was rejected for its
writes, see ``zodbtasks.tallies``).  Sorted by task or status, whole groups that lie
before the page are skipped by their counts.  Sorted by a time, the
order is the time index's (then the jobs without that time): those pages
are cheap from the start of that order only.
"""
import itertools

from BTrees.LLBTree import intersection

from zodbtasks import walks
from zodbtasks.keys import MAX_ID
from zodbtasks.trees import SENTINEL

#: The sort keys whose descending order is their ascending one reversed.
MIRRORED = ('id', 'task', 'status')


def ascending(tree, low=None):
    """The keys of ``tree`` from ``low`` (or the least) up."""
    return iter(tree.keys() if low is None else tree.keys(min=low))


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


class Selection:
    """The ids matching ``filters`` (family name -> value: 'status',
    'task', 'tag') in ``index``; every job of ``jobs`` without filters."""

    def __init__(self, index, jobs, filters):
        self.index, self.jobs, self.filters = index, jobs, dict(filters)
        self.sets = [self._set(family, value)
                     for family, value in self.filters.items()]
        total = self.known_count(self.filters)
        if total is None and any(ids is None for ids, _ in self.sets):
            total, self.sets = 0, [(None, 0)]
        elif total is None:
            both = None
            for ids, _ in self.sets:
                both = ids if both is None else intersection(both, ids)
            total = len(both) - (SENTINEL in both)
            self.sets = [(both, total)]
        self.total = total

    def _groups(self, family):
        index = self.index
        return {'status': index.by_status, 'task': index.by_task,
                'tag': index.by_tag}[family]

    def _set(self, family, value):
        """(IdSet or None, how many ids it holds)."""
        groups = self._groups(family)
        if groups is None:
            return None, 0
        return groups.sets.get(value), groups.count(value)

    def known_count(self, filters):
        """How many jobs match ``filters``, when counts tell (else None)."""
        if not filters:
            return sum(self.index.count_by_status().values())
        if len(filters) == 1:
            (family, value), = filters.items()
            groups = self._groups(family)
            return groups.count(value) if groups is not None else 0
        if set(filters) == {'status', 'task'}:
            return self.index.tally_of_tasks().count(filters['task'],
                                                     filters['status'])
        return None

    def count_in(self, family, value):
        """How many of the selection are in ``family``'s set of
        ``value`` (None: unknown without walking them)."""
        if family in self.filters:
            return self.total if self.filters[family] == value else 0
        if self.total == 0:
            return 0
        return self.known_count(dict(self.filters, **{family: value}))

    def walk(self, reverse, also=None):
        """The ids in id order (descending when ``reverse``), of those
        that are also in ``family``'s set of ``value`` when ``also`` is
        (family, value) (a family of the filter: the caller asks for its
        value only)."""
        sets = list(self.sets)
        if also is not None and also[0] not in self.filters:
            sets.append(self._set(*also))
        if not sets:
            return descending(self.jobs) if reverse \
                else ascending(self.jobs)
        if any(ids is None for ids, _ in sets):
            return iter(())
        sets.sort(key=lambda pair: pair[1])
        if len(sets) == 1:
            return descending(sets[0][0], SENTINEL + 1) if reverse \
                else ascending(sets[0][0], SENTINEL + 1)
        return leapfrog([ids for ids, _ in sets], reverse)


def leapfrog(trees, reverse):
    """The keys (ids above the sentinel) that all of ``trees`` hold, in
    order (descending when ``reverse``): each tree in turn jumps to its
    first key at or beyond the others' (``maxKey(bound)``,
    ``minKey(bound)``), so a run of ids that one tree holds and another
    does not costs one path from the root, not a walk over its buckets
    (a "leapfrog" join, as search engines intersect posting lists).

    Design note: testing each id of the smallest set for membership in
    the others walked 28,000 ids of a task's backlog (1,125 objects
    loaded) before the first of its completed jobs, at a million jobs.
    """
    return walks.walk_sets(trees, SENTINEL + 1, MAX_ID, reverse)


def page(selection, sort_on, reverse, start, size):
    """The ids of the page of ``size`` from ``start`` of ``selection``
    sorted on ``sort_on``."""
    total = selection.total
    if size <= 0 or start >= total:
        return []
    if sort_on in MIRRORED:
        ahead, behind = _walks(selection, sort_on, reverse, start, size)
        if behind < ahead:
            first = max(total - start - size, 0)
            ids = list(itertools.islice(
                ordered(selection, sort_on, not reverse, first),
                min(size, total - start)))
            ids.reverse()
            return ids
    return list(itertools.islice(
        ordered(selection, sort_on, reverse, start), size))


def _walks(selection, sort_on, reverse, start, size):
    """How many ids a page walks over before its first one, from the
    start of the order and from its end: groups whose counts are known
    are skipped without a walk."""
    total, end = selection.total, start + size
    if sort_on == 'id':
        return start, total - end
    groups = selection._groups(sort_on)
    counts = [selection.count_in(sort_on, value)
              for value in sorted(groups.values(), reverse=reverse)]
    if None in counts:
        return start, total - end
    ahead = behind = None
    begin = 0
    for count in counts:
        if ahead is None and start < begin + count:
            ahead = start - begin
        if end <= begin + count:
            behind = begin + count - end
            break
        begin += count
    return ahead or 0, behind or 0


def ordered(selection, sort_on, reverse, offset):
    """The ids of ``selection`` sorted on ``sort_on``, from ``offset``."""
    if sort_on == 'id':
        return itertools.islice(selection.walk(reverse), offset, None)
    if sort_on in ('status', 'task'):
        return _by_groups(selection, sort_on, reverse, offset)
    return itertools.islice(
        _by_time(selection, getattr(selection.index, sort_on), reverse),
        offset, None)


def _by_groups(selection, family, reverse, offset):
    """By the family's values, then by id; the groups before ``offset``
    are skipped by their counts when these are known."""
    groups = selection._groups(family)
    for value in sorted(groups.values(), reverse=reverse):
        count = selection.count_in(family, value)
        if count == 0:
            continue
        if count is not None and offset >= count:
            offset -= count
            continue
        ids = selection.walk(reverse, also=(family, value))
        for jobid in ids:
            if offset:
                offset -= 1
                continue
            yield jobid


def _by_time(selection, tree, reverse):
    """Jobs having the time first (in time order), then the others in id
    order."""
    timed = set()
    others = [ids for ids, _ in selection.sets]
    if any(ids is None for ids in others):
        return
    for _, jobid in (descending(tree) if reverse else ascending(tree)):
        if all(jobid in ids for ids in others):
            timed.add(jobid)
            yield jobid
    for jobid in selection.walk(reverse):
        if jobid not in timed:
            yield jobid
