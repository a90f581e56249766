"""BTrees tuned for job bookkeeping, and the sentinel that keeps small
ones free of conflicts.

Design note (measured with bench/bench_core.py and the grouping bench):
ZODB's pickler calls ``persistent_id`` once for every key and value of a
bucket it writes, so a job's cost grows with the size of the buckets it
touches; but every record written also costs its header (42 bytes in
FileStorage) and its class, and a split rewrites the parent node.  0.1
used leaves of 32 ids and 16 (time, id) pairs with internal nodes of 48.
Since grouped execution (claims and folds of up to 1,000 jobs in one
transaction) leaves hold 64 ids and 32 time pairs, with internal nodes of
16 children; order keys keep 32 per leaf, since every add() rewrites the
queue's last leaf.  Data.fs bytes per job, old -> new: grouped (100)
540 -> 486, single jobs claimed in batches 915 -> 759, one job per
transaction ("trickle") 6,060 -> 6,570 (the trade-off; issue 10 is
about that case).  Larger leaves (120 ids, 64 pairs) gave 482 grouped
but 8,290 trickle.

The sentinel: a BTree bucket refuses to merge a change of its first key
with another change, so in a one-bucket tree an add (at the end) and a
removal of the oldest key (at the front) conflict.  While a tree is small
it holds the key 0 (never a job id or an order key), so removals never
touch the first key.  In a large tree the sentinel would keep an empty
first bucket alive, and every removal of the oldest key would then change
the first key of the *second* bucket, which rewrites the parent node
(measured: 11-15 KB per pull at 10,000 waiting); there, adds and removals
touch different buckets anyway, so the sentinel is dropped.
"""
import persistent
from BTrees.LLBTree import LLTreeSet
from BTrees.LOBTree import LOBTree
from BTrees.OOBTree import OOTreeSet

SENTINEL = 0
#: Above this many entries a tree has several buckets (twice the largest
#: leaf): drop the sentinel.
LARGE = 128
#: Below this many entries a tree is small again: restore the sentinel.
SMALL = 16


class IdSet(LLTreeSet):
    """A set of job ids (leaf sizes: see the module docstring)."""
    max_leaf_size = 64
    max_internal_size = 16


class TailIdSet(LLTreeSet):
    """A set of job ids that grows at its end one job at a time and only
    loses ids when jobs are removed (a task's jobs, a tag's, a
    priority's): every add() rewrites its last leaf, which a split leaves
    at least half full, so its leaves are small.  Sets that folds change
    by many ids at once (the status sets, the holders of tasks and tags)
    stay IdSets: small leaves there cost more buckets per fold (measured:
    4 worker processes on RelStorage 18% slower)."""
    max_leaf_size = 16
    max_internal_size = 32


class JobTree(LOBTree):
    """Job id -> job, for the services made since 0.2 (those of 0.1 keep
    their LOBTree, whose leaves of 60 jobs cost about 1.7 KB of writes
    per add(): ids only grow, so every add rewrites the last leaf)."""
    max_leaf_size = 16
    max_internal_size = 64


class OrderTree(LOBTree):
    """Order key -> job id, for queues."""
    max_leaf_size = 32
    max_internal_size = 48


class TimeSet(OOTreeSet):
    """(epoch seconds, job id) pairs."""
    max_leaf_size = 32
    max_internal_size = 16


def tune_sentinel(tree, count):
    """Keep the sentinel in ``tree`` (a set of ids or an order tree) while
    it holds fewer than SMALL real entries, and drop it once it holds more
    than LARGE; ``count`` is the number of real entries."""
    present = SENTINEL in tree
    is_set = not hasattr(tree, 'values')
    if count > LARGE and present:
        tree.remove(SENTINEL) if is_set else tree.pop(SENTINEL)
    elif count < SMALL and not present:
        if is_set:
            tree.add(SENTINEL)
        else:
            tree[SENTINEL] = SENTINEL


#: Keys a Counts stores by position (the statuses, and 'startlater' of
#: 0.1): its state is then a tuple of numbers instead of a dict of names,
#: 40 bytes instead of 185 for the status counts, which every add() and
#: fold writes.  Stored data: never reorder or remove a key, only append.
PACKED_KEYS = ('queued', 'processing', 'completed', 'error', 'cancelled',
               'delayed', 'cronjob', 'startlater', 'blocked')
_POSITIONS = {key: number for number, key in enumerate(PACKED_KEYS)}


def pack_counts(counts):
    """The state of a Counts holding ``counts`` (a dict): ``'packed'``,
    the numbers of PACKED_KEYS by position (None for a key it does not
    hold; trailing Nones dropped), and ``'other'``, a dict of the other
    keys; each only when needed."""
    packed, other = [None] * len(PACKED_KEYS), {}
    for key, count in counts.items():
        position = _POSITIONS.get(key)
        if position is None:
            other[key] = count
        else:
            packed[position] = count
    while packed and packed[-1] is None:
        packed.pop()
    state = {}
    if packed:
        state['packed'] = tuple(packed)
    if other:
        state['other'] = other
    return state


def unpack_counts(state):
    """The dict of counts in a Counts' state, packed or of 0.2 and before
    (``{'counts': {...}}``)."""
    if 'counts' in state:
        return dict(state['counts'])
    counts = {key: count for key, count in zip(PACKED_KEYS,
                                                 state.get('packed', ()))
              if count is not None}
    counts.update(state.get('other', {}))
    return counts


class Counts(persistent.Persistent):
    """Counts per key (status or task name) in one object.

    Conflict resolution is a pure function, as BTrees.Length's: the deltas
    of two transactions are added per key, so concurrent status changes
    never conflict on the counts (one object written instead of one
    ``Length`` per status).  The state is packed (``pack_counts``).
    """

    def __init__(self, keys=()):
        self.counts = {key: 0 for key in keys}

    def __getstate__(self):
        return pack_counts(self.__dict__.get('counts', {}))

    def __setstate__(self, state):
        super().__setstate__({'counts': unpack_counts(state)})

    def change(self, key, delta):
        counts = dict(self.counts)
        counts[key] = counts.get(key, 0) + delta
        self.counts = counts

    def get(self, key):
        return self.counts.get(key, 0)

    def items(self):
        return self.counts.items()

    def _p_resolveConflict(self, old, committed, new):
        old_counts, ours = unpack_counts(old), unpack_counts(new)
        merged = unpack_counts(committed)
        for key in set(old_counts) | set(ours):
            delta = ours.get(key, 0) - old_counts.get(key, 0)
            if delta:
                merged[key] = merged.get(key, 0) + delta
        return pack_counts(merged)


def made(owner, name, factory):
    """``owner.<name>``, made with ``factory()`` on first use: services
    made by an older release do not have the trees added since."""
    value = getattr(owner, name, None)
    if value is None:
        value = factory()
        setattr(owner, name, value)
    return value
