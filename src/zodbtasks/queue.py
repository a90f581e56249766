"""A persistent FIFO queue whose per-operation cost stays flat.

Design note: ``zc.queue.Queue`` keeps its items in one persistent list, so
every put and pull rewrites the whole content (measured: 360 KiB per pull
with 100,000 waiting), and ``CompositeQueue`` rescans its buckets per pull.
`BTreeQueue` keeps items in a BTree keyed by an order key that grows with
time; a put touches the last bucket, a pull the first one, so each
operation writes one small bucket whatever the backlog (see
``zodbtasks.trees`` for the bucket sizes and the sentinel that keeps a
short queue's puts and pulls from conflicting).  It implements zc.queue's
``IQueue`` and keeps its conflict rule: two transactions pulling the same
item conflict (the BTree refuses to merge two deletions of one key), so
exactly one of them gets it.
"""
import random

import persistent
import zc.queue.interfaces
import zope.interface
from BTrees.Length import Length
from zodbtasks import clock
from zodbtasks.trees import SENTINEL
from zodbtasks.trees import OrderTree
from zodbtasks.trees import tune_sentinel

#: Random low bits of an order key; keys made in the same millisecond by
#: concurrent processes rarely collide (and a collision is a conflict, so
#: the losing transaction retries with a new key).
RANDOM_BITS = 12


def time_ordered_key(now, taken=(), rng=random, after=None):
    """An int key that grows with ``now`` (epoch seconds), is greater than
    ``after`` (the greatest key so far) and is not in ``taken``.

    It is the milliseconds shifted left by RANDOM_BITS plus random bits,
    or ``after + 1`` when that would not be greater: keys made one after
    the other keep their order even within a millisecond or when clocks
    differ.  Keys stay below 2**53 until 2039, so JavaScript reads them
    exactly.
    """
    key = (round(now * 1000) << RANDOM_BITS) | rng.getrandbits(RANDOM_BITS)
    if after is not None and key <= after:
        key = after + 1
    while key in taken:
        key += 1
    return key


@zope.interface.implementer(zc.queue.interfaces.IQueue)
class BTreeQueue(persistent.Persistent):
    """A FIFO of ints (job ids) in a BTree keyed by order.

    Besides ``IQueue`` it lets the owner remove an entry by its order key
    in O(log n), which cancelling a job needs.
    """

    def __init__(self):
        self._data = OrderTree()
        self._length = Length()
        tune_sentinel(self._data, 0)

    def put(self, item, key=None, now=None):
        """Append ``item`` and return its order key.

        ``key`` re-inserts at a known position (a released job goes back
        where it was) when that key is free; otherwise a new key is made
        from ``now`` (epoch seconds).
        """
        if key is None or key in self._data:
            if now is None:
                now = clock.now()
            last = self._data.maxKey() if self._data else SENTINEL
            key = time_ordered_key(now, self._data, after=last or None)
        self._data[key] = item
        self._changed(1)
        return key

    def pull(self, index=0):
        """See IQueue."""
        key = self._key_at(index)
        item = self._data.pop(key)
        self._changed(-1)
        return item

    def remove(self, key):
        """Remove the entry with order key ``key`` and return its item
        (KeyError when there is none)."""
        if key == SENTINEL:
            raise KeyError(key)
        item = self._data.pop(key)
        self._changed(-1)
        return item

    def _changed(self, delta):
        self._length.change(delta)
        tune_sentinel(self._data, self._length())

    def keys(self, limit=None):
        """Order keys, front first (at most ``limit``)."""
        for count, key in enumerate(self._data.keys(min=SENTINEL + 1)):
            if limit is not None and count >= limit:
                break
            yield key

    def enqueuedAt(self, index=0):
        """When the entry at ``index`` was put (epoch seconds, from its
        order key)."""
        return (self._key_at(index) >> RANDOM_BITS) / 1000.0

    def _key_at(self, index):
        if not self:
            raise IndexError('pull from an empty queue')
        if index == 0:
            return self._data.minKey(SENTINEL + 1)
        if index == -1:
            return self._data.maxKey()
        length = len(self)
        if index < 0:
            index += length
        if not 0 <= index < length:
            raise IndexError(index)
        for position, key in enumerate(self.keys()):
            if position == index:
                return key

    def __len__(self):
        return self._length()

    def __bool__(self):
        return self._length() > 0

    __nonzero__ = __bool__

    def __iter__(self):
        return iter(self._data.values(min=SENTINEL + 1))

    def __contains__(self, item):
        return any(value == item for value in self)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return list(self)[index]
        return self._data[self._key_at(index)]
