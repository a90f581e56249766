"""A persistent queue ordered by opaque order keys, whose per-operation
cost stays flat.

Design note: ``zc.queue.Queue`` keeps its items in one persistent list, so
every put and pull rewrites the whole content (measured: 360 KiB per pull
with 100,000 waiting), and ``CompositeQueue`` rescans its buckets per pull.
`BTreeQueue` keeps items in a BTree keyed by an order key
(``zodbtasks.keys``); a put touches the last bucket of its band, a pull
the first one, so each operation writes one small bucket whatever the
backlog (see ``zodbtasks.trees`` for the bucket sizes and the sentinel
that keeps a short queue's puts and pulls from conflicting).  It
implements zc.queue's ``IQueue`` and keeps its conflict rule: two
transactions pulling the same item conflict (the BTree refuses to merge
two deletions of one key), so exactly one of them gets it.

The keys are an order, not times: nothing decodes them.  The job-state
layer places each job (``insert`` at ``zodbtasks.keys.ready_key``); keys
written by 0.1 (the enqueue time) sort among them in band 0.
"""
import itertools
import random

import persistent
import zc.queue.interfaces
import zope.interface
from BTrees.Length import Length

from zodbtasks.keys import BAND
from zodbtasks.keys import RANDOM_BITS
from zodbtasks.keys import next_order_key
from zodbtasks.trees import SENTINEL
from zodbtasks.trees import OrderTree
from zodbtasks.trees import tune_sentinel


def nth_key(keys, length, index):
    """The ``index``-th of ``keys`` (``length`` of them; negative indexes
    count from the end); IndexError when there is none."""
    if index < 0:
        index += length
    if not 0 <= index < length:
        raise IndexError(index)
    return next(itertools.islice(keys, index, None))


@zope.interface.implementer(zc.queue.interfaces.IQueue)
class BTreeQueue(persistent.Persistent):
    """A queue of ints (job ids) in a BTree keyed by order.

    Besides ``IQueue`` it lets the owner put an item back at a known
    position and remove an entry by its order key in O(log n), which
    releasing and cancelling a job need.
    """

    def __init__(self):
        self._data = OrderTree()
        self._length = Length()
        tune_sentinel(self._data, 0)

    def put(self, item, key=None):
        """Put ``item`` at order key ``key`` (a released job goes back
        where it was), or at the first free key after it when that one is
        taken; at the end of the queue without ``key`` (IQueue's put).
        Return the key."""
        if key is not None and key != SENTINEL:
            if key in self._data:
                return self.insert(item, key)
        else:
            last = self._data.maxKey() if self._data else None
            last = None if last == SENTINEL else last
            key = next_order_key(last, band=(last or 0) // BAND,
                                 taken=self._data)
        self._data[key] = item
        self._changed(1)
        return key

    def insert(self, item, key, home=None, rng=random):
        """Put ``item`` at the first free order key from ``key`` on and
        return that key.  Items inserted at one key (one millisecond, see
        ``zodbtasks.keys.ready_key``) keep the order of their insertion:
        each goes after the last one already there."""
        region_end = key | ((1 << RANDOM_BITS) - 1)
        try:
            last = self._data.maxKey(region_end)
        except ValueError:
            last = None
        if last is not None and last >= key:
            key = last + 1 + rng.getrandbits(2)
        while key in self._data:
            key += 1
        self._data[key] = item
        self._changed(1)
        return key

    def align(self, home, key):
        """An unsharded queue takes any key."""
        return key

    def take(self, prefer=None, tolerance=0, rng=random, low=None):
        """Pull the head (an unsharded queue has no preference: see
        ``zodbtasks.shards.ShardedQueue.take``)."""
        return self.pull()

    def peek(self, prefer=None, count=1):
        """The first ``count`` items, without taking them."""
        return [item for _, item in itertools.islice(self.items(), count)]

    def last_key(self, upto):
        """The greatest order key up to ``upto``, or None."""
        try:
            key = self._data.maxKey(upto)
        except ValueError:
            return None
        return None if key == SENTINEL else key

    def head_key(self):
        """The order key at the front, or None when empty (without
        reading the length, which every pull changes)."""
        try:
            return self._data.minKey(SENTINEL + 1)
        except ValueError:
            return None

    def place(self, item, key):
        """Put ``item`` at order key ``key``, which must be free."""
        if key in self._data:
            raise KeyError('order key %d is taken' % key)
        self._data[key] = item
        self._changed(1)

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

    def keys_after(self, key=None):
        """Order keys after ``key`` (from the front when None), lazily."""
        return self._data.keys(min=SENTINEL if key is None else key,
                               excludemin=True)

    def items(self):
        """(order key, item) pairs, front first (lazily)."""
        return self._data.items(min=SENTINEL + 1)

    def get(self, key, default=None):
        """The item at order key ``key``, or ``default``."""
        if key == SENTINEL:
            return default
        return self._data.get(key, default)

    def _key_at(self, index):
        if not self:
            raise IndexError('pull from an empty queue')
        if index == 0:
            return self._data.minKey(SENTINEL + 1)
        if index == -1:
            return self._data.maxKey()
        return nth_key(self.keys(), len(self), index)

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
