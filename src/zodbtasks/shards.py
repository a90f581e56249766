"""The ready queue in shards, so that workers claiming at the same time
pull from different trees.

Design note: claiming pulls the front of the ready queue, and two
transactions that remove the first keys of one BTree bucket conflict
(BTrees refuse to merge a change of a bucket's first key, which its
parent node names, with another change).  With one queue, every claim of
several workers met there.  ``ShardedQueue`` keeps ``SHARDS`` queues
(``zodbtasks.queue.BTreeQueue``); a job goes to the shard its id names
(``id % SHARDS``: a burst of adds is spread evenly; the jobs of one
serialization tag share the shard of the tag, so that they keep their
order), at an order key
that is also congruent to the shard (so that a key names its shard and
keys stay unique across shards), after every key of its millisecond in
any shard (so that jobs queued one after the other keep their order).

Claiming (``take``): a worker that is alone takes the global front, so
a lone worker keeps the exact order.  With n live workers, the worker of
rank r among them prefers the shards s with ``s % n == r % n`` (so that
every shard has a worker while there are at most SHARDS) and takes the
earliest of their fronts as long as that is at most ``TOLERANCE``
behind the global front (one second of
ready time: with the default aging, priorities shift the ready time, so
this is "within one second of waiting"; with strict priorities a band
lies far beyond it, so a worker never takes a lower band while a higher
one waits); otherwise, or when its shard is empty, it takes the front of
a shard picked at random among those within the tolerance, so that the
workers that steal seldom pick the same one.

Services made before shards keep their single BTreeQueue until a
processor's first claim makes it the first shard (``shard``); keys in it
that do not name their shard are found there (``_find``).
"""
import heapq
import itertools
import random

import persistent

from zodbtasks.keys import RANDOM_BITS
from zodbtasks.queue import BTreeQueue
from zodbtasks.queue import nth_key

#: Shards of a new service's ready queue.
SHARDS = 8
#: How far behind the global front a worker's own shard may be (order key
#: units: one second of ready time).
TOLERANCE = 1000 << RANDOM_BITS
#: Random steps of SHARDS between the keys of concurrent adders.
SPREAD_BITS = 2


class ShardedQueue(persistent.Persistent):
    """See the module docstring; the queue API of ``BTreeQueue``."""

    def __init__(self, count=SHARDS, first=None):
        first = BTreeQueue() if first is None else first
        self.shards = (first,) + tuple(BTreeQueue()
                                       for _ in range(count - 1))

    # -- placing -------------------------------------------------------------

    def align(self, home, key):
        """The first key from ``key`` on that names shard ``home %
        SHARDS``."""
        return key + (home - key) % len(self.shards)

    def insert(self, item, key, home=None, rng=random):
        """Put ``item`` (a job id) in shard ``home`` (default: ``item``)
        at the first free key from ``key`` on that names the shard, after
        the keys already in ``key``'s millisecond; return the key."""
        count = len(self.shards)
        home = item if home is None else home
        region_end = key | ((1 << RANDOM_BITS) - 1)
        lasts = [last for last in (shard.last_key(region_end)
                                   for shard in self.shards)
                 if last is not None and last >= key]
        if lasts:
            key = max(lasts) + 1 + rng.getrandbits(SPREAD_BITS) * count
        return self._place(item, home % count, key)

    def put(self, item, key=None):
        """Put ``item`` at ``key`` (a released job goes back where it was)
        or the first free key after it; at the end without ``key``."""
        count = len(self.shards)
        if key is None:
            lasts = [shard.last_key(2 ** 63 - 1) for shard in self.shards]
            key = max([last for last in lasts if last is not None],
                      default=0) + 1
            return self._place(item, item % count, key)
        return self._place(item, key % count, key)

    def _place(self, item, target, key):
        key = self.align(target, key)
        shard = self.shards[target]
        while shard.get(key) is not None:
            key += len(self.shards)
        shard.place(item, key)
        return key

    # -- taking --------------------------------------------------------------

    def _heads(self, numbers=None):
        """(front key, shard number) of the non-empty shards among
        ``numbers`` (None: all), earliest first."""
        if numbers is None:
            numbers = range(len(self.shards))
        return sorted((head, number) for head, number in (
            (self.shards[number].head_key(), number) for number in numbers)
            if head is not None)

    def _owned(self, prefer):
        """The shard numbers of the worker ``prefer`` (rank, count)."""
        rank, count = prefer
        return [number for number in range(len(self.shards))
                if number % count == rank % count]

    def front_key(self):
        """The least order key of all shards, or None when empty."""
        heads = self._heads()
        return heads[0][0] if heads else None

    def take(self, prefer=None, tolerance=TOLERANCE, rng=random, low=None):
        """Pull a front: the global one when ``prefer`` is None, else (see
        the module docstring) that of one of the worker's shards or a
        random near one; ``prefer`` is (the worker's rank, how many live
        workers there are), and worker r of n has the shards s with
        ``s % n == r % n``.  ``low``: the global front's key as the caller
        read it before (a claim reads it once: the other shards change
        under the other workers, and reading them costs loads).
        IndexError when the queue is empty."""
        if prefer is not None and low is not None:
            own = [number for head, number in self._heads(self._owned(prefer))
                   if head <= low + tolerance]
            if own:
                return self.shards[own[0]].pull()
        heads = self._heads()
        if not heads:
            raise IndexError('pull from an empty queue')
        if prefer is None:
            return self.shards[heads[0][1]].pull()
        owned = self._owned(prefer)
        near = [number for head, number in heads
                if head <= heads[0][0] + tolerance]
        own = [number for number in near if number in owned]
        return self.shards[own[0] if own else rng.choice(near)].pull()

    def peek(self, prefer=None, count=1):
        """The items ``take(prefer)`` would take first (up to ``count``,
        roughly: stealing is not foreseen), without taking them."""
        shards = self.shards if prefer is None else [
            self.shards[number] for number in self._owned(prefer)]
        items = heapq.merge(*[shard.items() for shard in shards])
        return [item for _, item in itertools.islice(items, count)]

    def pull(self, index=0):
        """See IQueue (the global front only)."""
        if index != 0:
            return self.remove(self._key_at(index))
        return self.take()

    def remove(self, key):
        """Remove the entry at ``key``; return its item (KeyError when
        there is none)."""
        shard, _ = self._find(key)
        if shard is None:
            raise KeyError(key)
        return shard.remove(key)

    # -- reading -------------------------------------------------------------

    def _find(self, key):
        """(shard, item) of the entry at ``key``, or (None, None)."""
        home = self.shards[key % len(self.shards)]
        for shard in (home, self.shards[0]):
            item = shard.get(key)
            if item is not None:
                return shard, item
        return None, None

    def get(self, key, default=None):
        item = self._find(key)[1]
        return default if item is None else item

    def items(self):
        """(order key, item) pairs, front first (lazily)."""
        return heapq.merge(*[shard.items() for shard in self.shards])

    def keys(self, limit=None):
        for count, (key, _) in enumerate(self.items()):
            if limit is not None and count >= limit:
                break
            yield key

    def keys_after(self, key=None):
        return heapq.merge(*[shard.keys_after(key) for shard in self.shards])

    def _key_at(self, index):
        return nth_key(self.keys(), len(self), index)

    def __len__(self):
        return sum(len(shard) for shard in self.shards)

    def __bool__(self):
        return any(self.shards)

    def __iter__(self):
        return (item for _, item in self.items())

    def __contains__(self, item):
        return any(value == item for value in self)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return list(self)[index]
        return self._find(self._key_at(index))[1]


def shard(service, count=SHARDS):
    """Make ``service``'s single ready queue (a service made before
    shards) the first shard of a ShardedQueue; return the queue."""
    queue = service._queue
    if not isinstance(queue, ShardedQueue):
        queue = service._queue = ShardedQueue(count, first=queue)
    return queue
