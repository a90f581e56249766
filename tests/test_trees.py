import os

import pytest
import transaction

from zodbtasks.queue import BTreeQueue
from zodbtasks.trees import LARGE
from zodbtasks.trees import SENTINEL
from zodbtasks.trees import SMALL
from zodbtasks.trees import IdSet
from zodbtasks.trees import OrderTree
from zodbtasks.trees import tune_sentinel


@pytest.mark.parametrize('factory', [IdSet, OrderTree])
def test_small_tree_gets_the_sentinel(factory):
    tree = factory()
    tune_sentinel(tree, 0)
    assert SENTINEL in tree


def test_large_set_drops_the_sentinel():
    ids = IdSet(range(LARGE + 2))
    tune_sentinel(ids, LARGE + 1)
    assert SENTINEL not in ids and len(ids) == LARGE + 1


def test_large_order_tree_drops_the_sentinel():
    tree = OrderTree({k: k for k in range(LARGE + 2)})
    tune_sentinel(tree, LARGE + 1)
    assert SENTINEL not in tree


def test_between_the_thresholds_nothing_changes():
    with_sentinel, without = IdSet([0, 5]), IdSet([5])
    tune_sentinel(with_sentinel, SMALL + 1)
    tune_sentinel(without, SMALL + 1)
    assert list(with_sentinel) == [0, 5] and list(without) == [5]


def test_trees_have_bounded_buckets():
    assert IdSet.max_leaf_size <= 120 and OrderTree.max_leaf_size <= 64
    assert LARGE >= 2 * max(IdSet.max_leaf_size, OrderTree.max_leaf_size)


def _filled(db, count):
    conn = db.open()
    conn.root()['queue'] = queue = BTreeQueue()
    for index in range(count):
        queue.put(index + 1)
        if index % 5000 == 4999:
            transaction.commit()
    transaction.commit()
    oid = queue._p_oid
    conn.close()
    return oid


def _views(db, oid):
    views = []
    for _ in range(2):
        tm = transaction.TransactionManager()
        views.append((tm, db.open(transaction_manager=tm).get(oid)))
    return views


@pytest.mark.parametrize('waiting', [1, 20, 200, 2000])
def test_put_and_pull_merge_at_every_size(db, waiting):
    (tm1, q1), (tm2, q2) = _views(db, _filled(db, waiting))
    assert q1.pull() == 1
    q2.put(-5)
    tm1.commit()
    tm2.commit()
    tm1.begin()
    assert len(q1) == waiting and list(q1)[-1] == -5


def test_queue_drained_below_small_gets_its_sentinel_back(db):
    (tm, queue), _ = _views(db, _filled(db, LARGE + 10))
    assert SENTINEL not in queue._data
    while len(queue) >= SMALL:
        queue.pull()
    assert SENTINEL in queue._data


def test_a_pull_from_a_long_queue_writes_little(db):
    oid = _filled(db, 5000)
    (tm, queue), _ = _views(db, oid)
    path = db.storage.getName()
    sizes = []
    for _ in range(40):
        before = os.path.getsize(path)
        queue.pull()
        tm.commit()
        sizes.append(os.path.getsize(path) - before)
    assert max(sizes) < 2048, sizes


def test_counts_change_and_get():
    from zodbtasks.trees import Counts
    counts = Counts(['a'])
    counts.change('a', 2)
    counts.change('b', -1)
    assert (counts.get('a'), counts.get('b'), counts.get('c')) == (2, -1, 0)


def test_concurrent_count_changes_merge(db):
    from zodbtasks.trees import Counts
    conn = db.open()
    conn.root()['counts'] = Counts(['queued', 'completed'])
    transaction.commit()
    oid = conn.root()['counts']._p_oid
    conn.close()
    (tm1, c1), (tm2, c2) = _views(db, oid)
    c1.change('queued', -1)
    c1.change('completed', 1)
    c2.change('queued', 1)
    c2.change('error', 1)
    tm1.commit()
    tm2.commit()
    tm1.begin()
    assert dict(c1.items()) == {'queued': 0, 'completed': 1, 'error': 1}


def test_counts_are_stored_packed_and_read_back(db):
    """The status counts, which every add() writes, are a tuple of numbers
    in the stored state, not a dict of names; keys keep their presence."""
    import pickle
    from zodbtasks.interfaces import STATUSES
    from zodbtasks.trees import Counts
    counts = Counts(STATUSES)
    for number, status in enumerate(STATUSES):
        counts.change(status, 10000 + number)
    counts.change(('task', 'x'), 3)
    state = counts.__getstate__()
    assert 'counts' not in state and state['other'] == {('task', 'x'): 3}
    old_style = {'counts': dict(counts.items())}
    assert len(pickle.dumps(state, 3)) * 2 < len(pickle.dumps(old_style, 3))
    conn = db.open()
    conn.root()['counts'] = counts
    sparse = conn.root()['sparse'] = Counts(['completed'])
    sparse.change('error', 0)
    transaction.commit()
    conn.close()
    conn = db.open()
    assert dict(conn.root()['counts'].items()) == dict(
        [(status, 10000 + n) for n, status in enumerate(STATUSES)]
        + [(('task', 'x'), 3)])
    assert dict(conn.root()['sparse'].items()) == {'completed': 0,
                                                   'error': 0}
    conn.close()


def test_counts_stored_by_earlier_releases_load_and_merge():
    """A state of 0.2 and before (a dict of names) loads, and conflicts
    between it and a packed one merge."""
    from zodbtasks.trees import Counts
    from zodbtasks.trees import pack_counts
    counts = Counts.__new__(Counts)
    counts.__setstate__({'counts': {'queued': 5, 'completed': 2}})
    assert dict(counts.items()) == {'queued': 5, 'completed': 2}
    old = {'counts': {'queued': 5, 'completed': 2}}
    committed = pack_counts({'queued': 4, 'completed': 3})
    ours = {'counts': {'queued': 6, 'completed': 2}}
    merged = counts._p_resolveConflict(old, committed, ours)
    assert merged == pack_counts({'queued': 5, 'completed': 3})
