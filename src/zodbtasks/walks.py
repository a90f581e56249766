"""Walks over the BTrees of the index that may stop: the keys of one
set or of several (by jumps) between two bounds, and the (time, id) keys
of a time index, each step paid from a ``Budget``; a walk out of steps
stops and says where to continue (``Budget.resume``), so that a search
(``zodbtasks.search``) takes bounded time at any number of jobs and a
bulk job (``zodbtasks.bulk``) continues in its next chunk.

Descending walks step by ``maxKey(bound)`` (see
``zodbtasks.listing.descending``: ``reversed(tree.keys())`` loads every
bucket first), which also makes them safe while the walker changes the
tree (a bulk delete): each step looks the tree up afresh.
"""
from zodbtasks.trees import SENTINEL


class Budget:
    """Steps a walk may take (None: no bound); a walk that runs out sets
    ``resume``: the key to continue after.  A walk takes the steps it
    needs to decide its first key even beyond its budget (at most one per
    set), so that walks resumed one after the other always progress."""

    def __init__(self, limit=None):
        self.limit, self.used, self.resume = limit, 0, None

    def spend(self):
        if self.limit is not None and self.used >= self.limit:
            return False
        self.used += 1
        return True


def walk_sets(trees, low, high, reverse, budget=None):
    """The keys from ``low`` to ``high`` (both included) that all of
    ``trees`` (LL sets, or the jobs' LOBTree) hold, in order (descending
    when ``reverse``): one tree is walked by its keys (descending: by
    ``maxKey`` steps), several by jumps (a leapfrog join, see
    ``zodbtasks.listing.leapfrog``, which walks the Jobs tab's pages
    through here without a bound); each key or jump spends a step of ``budget`` (a Budget),
    and a walk out of steps stops and sets its ``resume``."""
    budget = Budget() if budget is None else budget
    low = max(low, SENTINEL + 1)
    if low > high:
        return
    if len(trees) > 1:
        yield from _leapfrog(trees, low, high, reverse, budget)
        return
    yield from _walk_one(trees[0], low, high, reverse, budget,
                         lambda key, step: key + step)


def _leapfrog(trees, low, high, reverse, budget):
    count = len(trees)
    seek = (lambda tree, bound: tree.maxKey(bound)) if reverse \
        else (lambda tree, bound: tree.minKey(bound))
    step = -1 if reverse else 1
    try:
        key = first = seek(trees[0], high if reverse else low)
        agreed, turn = 1, 1
        while low <= key <= high:
            if not budget.spend() and key != first:
                # every key beyond ``key`` in the walk's order is decided
                budget.resume = key - step
                return
            if agreed == count:
                yield key
                key, agreed = seek(trees[turn % count], key + step), 1
            else:
                found = seek(trees[turn % count], key)
                if found == key:
                    agreed += 1
                else:
                    key, agreed = found, 1
            turn += 1
    except ValueError:   # a tree has no key beyond: no more in all
        return


def walk_times(tree, low, high, reverse, budget=None):
    """The (time, id) keys of ``tree`` from ``low`` to ``high``, in order
    (latest first when ``reverse``), a step of ``budget`` each."""
    budget = Budget() if budget is None else budget
    yield from _walk_one(tree, low, high, reverse, budget,
                         lambda key, step: (key[0], key[1] + step))


def _walk_one(tree, low, high, reverse, budget, beside):
    """The keys of one tree from ``low`` to ``high`` (latest first when
    ``reverse``), a step of ``budget`` each; ``beside(key, step)`` is the
    key just after (step 1) or before (-1) ``key``."""
    if not reverse:
        for key in tree.keys(min=low, max=high):
            if not budget.spend() and key != low:
                budget.resume = beside(key, -1)
                return
            yield key
        return
    key = high
    while True:
        if not budget.spend() and key != high:
            budget.resume = beside(key, 1)
            return
        try:
            key = tree.maxKey(key)
        except ValueError:
            return
        if key < low:
            return
        yield key
        key = beside(key, -1)
