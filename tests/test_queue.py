import random

import pytest
import transaction
from ZODB.POSException import ConflictError
from zc.queue.interfaces import IQueue
from zope.interface.verify import verifyObject

from zodbtasks.queue import RANDOM_BITS
from zodbtasks.queue import BTreeQueue
from zodbtasks.queue import time_ordered_key


def _makeOne():
    return BTreeQueue()


def test_provides_IQueue():
    assert verifyObject(IQueue, _makeOne())


def test_pull_returns_items_in_put_order():
    queue = _makeOne()
    for item, now in ((1, 10.0), (2, 11.0), (3, 12.0)):
        queue.put(item, now=now)
    assert [queue.pull(), queue.pull(), queue.pull()] == [1, 2, 3]


def test_len_bool_iter_getitem():
    queue = _makeOne()
    assert not queue and len(queue) == 0
    for item, now in ((5, 1.0), (6, 2.0), (7, 3.0)):
        queue.put(item, now=now)
    assert queue and len(queue) == 3
    assert list(queue) == [5, 6, 7]
    assert (queue[0], queue[-1], queue[1:]) == (5, 7, [6, 7])
    assert 6 in queue and 8 not in queue


def test_pull_by_index():
    queue = _makeOne()
    for item, now in ((5, 1.0), (6, 2.0), (7, 3.0)):
        queue.put(item, now=now)
    assert queue.pull(1) == 6
    assert queue.pull(-1) == 7
    assert list(queue) == [5]


def test_pull_from_empty_queue_raises_IndexError():
    with pytest.raises(IndexError):
        _makeOne().pull()
    with pytest.raises(IndexError):
        _makeOne().pull(-1)


def test_pull_out_of_range_raises_IndexError():
    queue = _makeOne()
    queue.put(1, now=1.0)
    with pytest.raises(IndexError):
        queue.pull(1)


def test_remove_by_key():
    queue = _makeOne()
    first = queue.put(1, now=1.0)
    queue.put(2, now=2.0)
    assert queue.remove(first) == 1
    assert list(queue) == [2] and len(queue) == 1
    with pytest.raises(KeyError):
        queue.remove(first)


def test_put_with_free_key_keeps_position():
    queue = _makeOne()
    key = queue.put(1, now=1.0)
    queue.put(2, now=2.0)
    queue.pull()
    assert queue.put(1, key=key) == key
    assert list(queue) == [1, 2]


def test_put_with_taken_key_makes_new_one():
    queue = _makeOne()
    key = queue.put(1, now=1.0)
    assert queue.put(2, key=key, now=5.0) != key
    assert list(queue) == [1, 2]


def test_keys_front_first_with_limit():
    queue = _makeOne()
    keys = [queue.put(i, now=float(i)) for i in range(5)]
    assert list(queue.keys(limit=2)) == keys[:2]


def test_time_ordered_key_grows_with_time():
    assert time_ordered_key(1.001) > time_ordered_key(1.0)
    assert time_ordered_key(1.0) >> RANDOM_BITS == 1000


def test_time_ordered_key_follows_the_greatest_key():
    assert time_ordered_key(1.0, after=10 ** 9) == 10 ** 9 + 1
    assert time_ordered_key(1.0, after=5) > 5 << RANDOM_BITS


def test_puts_in_one_millisecond_keep_their_order():
    queue = _makeOne()
    for item in range(200):
        queue.put(item, now=1.0)
    assert list(queue) == list(range(200))


def test_time_ordered_key_avoids_taken_keys():
    rng = random.Random(0)
    taken = {time_ordered_key(1.0, rng=random.Random(0))}
    assert time_ordered_key(1.0, taken, rng) not in taken


def test_time_ordered_key_is_exact_in_javascript_until_2039():
    assert time_ordered_key(2 ** 41 / 1000 - 1) < 2 ** 53


def _stored_queue(db, items):
    conn = db.open()
    conn.root()['queue'] = queue = _makeOne()
    for index, item in enumerate(items):
        queue.put(item, now=float(index))
    transaction.commit()
    oid = queue._p_oid
    conn.close()
    return oid


def _two_views(db, oid):
    views = []
    for _ in range(2):
        tm = transaction.TransactionManager()
        conn = db.open(transaction_manager=tm)
        views.append((tm, conn.get(oid)))
    return views


def test_two_pulls_of_the_same_item_conflict(db):
    oid = _stored_queue(db, [1, 2, 3])
    (tm1, q1), (tm2, q2) = _two_views(db, oid)
    assert q1.pull() == 1 and q2.pull() == 1
    tm1.commit()
    with pytest.raises(ConflictError):
        tm2.commit()


@pytest.mark.parametrize('waiting', [1, 3, 30])
def test_put_and_pull_in_one_bucket_merge(db, waiting):
    oid = _stored_queue(db, list(range(1, waiting + 1)))
    (tm1, q1), (tm2, q2) = _two_views(db, oid)
    q1.pull()
    q2.put(4, now=100.0)
    tm1.commit()
    tm2.commit()
    tm1.begin()
    assert list(q1) == list(range(2, waiting + 1)) + [4]
    assert len(q1) == waiting
