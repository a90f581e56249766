import pytest
import transaction
from ZODB.POSException import ConflictError
from zc.queue.interfaces import IQueue
from zope.interface.verify import verifyObject

from zodbtasks.queue import BTreeQueue


def _makeOne():
    return BTreeQueue()


def test_provides_IQueue():
    assert verifyObject(IQueue, _makeOne())


def test_pull_returns_items_in_put_order():
    queue = _makeOne()
    for item in (1, 2, 3):
        queue.put(item)
    assert [queue.pull(), queue.pull(), queue.pull()] == [1, 2, 3]


def test_len_bool_iter_getitem():
    queue = _makeOne()
    assert not queue and len(queue) == 0
    for item in (5, 6, 7):
        queue.put(item)
    assert queue and len(queue) == 3
    assert list(queue) == [5, 6, 7]
    assert (queue[0], queue[-1], queue[1:]) == (5, 7, [6, 7])
    assert 6 in queue and 8 not in queue


def test_pull_by_index():
    queue = _makeOne()
    for item in (5, 6, 7):
        queue.put(item)
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
    queue.put(1)
    with pytest.raises(IndexError):
        queue.pull(1)


def test_remove_by_key():
    queue = _makeOne()
    first = queue.put(1)
    queue.put(2)
    assert queue.remove(first) == 1
    assert list(queue) == [2] and len(queue) == 1
    with pytest.raises(KeyError):
        queue.remove(first)


def test_put_with_free_key_keeps_position():
    queue = _makeOne()
    key = queue.put(1)
    queue.put(2)
    queue.pull()
    assert queue.put(1, key=key) == key
    assert list(queue) == [1, 2]


def test_put_with_taken_key_makes_new_one():
    queue = _makeOne()
    key = queue.put(1)
    assert queue.put(2, key=key) != key
    assert list(queue) == [1, 2]


def test_keys_front_first_with_limit():
    queue = _makeOne()
    keys = [queue.put(i) for i in range(5)]
    assert list(queue.keys(limit=2)) == keys[:2]


def test_puts_keep_their_order_whatever_the_clock():
    queue = _makeOne()
    for item in range(200):
        queue.put(item)
    assert list(queue) == list(range(200))


def test_keys_after_walks_from_a_cursor():
    queue = _makeOne()
    keys = [queue.put(i) for i in range(5)]
    assert list(queue.keys_after()) == keys
    assert list(queue.keys_after(keys[1])) == keys[2:]


def test_get_by_order_key():
    queue = _makeOne()
    key = queue.put(7)
    assert queue.get(key) == 7 and queue.get(key + 1) is None
    assert queue.get(0) is None  # the sentinel is no entry


def test_keys_made_by_0_1_are_followed_by_new_ones():
    # 0.1 keyed entries by enqueue time (ms << 12): they stay in order.
    queue = _makeOne()
    old = (1764547200000 << 12) | 5
    queue.put(1, key=old)
    queue.put(2)
    assert list(queue) == [1, 2] and queue.pull() == 1


def _stored_queue(db, items):
    conn = db.open()
    conn.root()['queue'] = queue = _makeOne()
    for index, item in enumerate(items):
        queue.put(item)
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
    q2.put(4)
    tm1.commit()
    tm2.commit()
    tm1.begin()
    assert list(q1) == list(range(2, waiting + 1)) + [4]
    assert len(q1) == waiting
