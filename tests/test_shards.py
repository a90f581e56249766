"""The sharded ready queue: keys that name their shard, the order kept,
a lone worker taking the exact front, several workers their own shards,
and claims of two workers at once that do not conflict."""
import random

import pytest
import transaction

from zodbtasks import shards
from zodbtasks import testing
from zodbtasks.dispatch import Dispatch
from zodbtasks.interfaces import PROCESSING
from zodbtasks.keys import RANDOM_BITS
from zodbtasks.keys import ready_key
from zodbtasks.queue import BTreeQueue
from zodbtasks.shards import SHARDS
from zodbtasks.shards import ShardedQueue

MS = 1 << RANDOM_BITS


@pytest.fixture
def noted(service):
    ran = []
    testing.register_task('note', ran.append)
    return ran


def test_keys_name_their_shard_and_keep_the_order_of_insertion():
    queue = ShardedQueue()
    place = ready_key(100.0)
    items = list(range(1000, 1040))
    keys = [queue.insert(item, place) for item in items]
    assert [key % SHARDS for key in keys] == [item % SHARDS
                                              for item in items]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    assert list(queue) == items and len(queue) == 40
    assert [len(shard) for shard in queue.shards] == [5] * SHARDS
    assert queue.get(keys[3]) == items[3]
    assert queue.get(max(keys) + 1) is None
    assert queue.remove(keys[3]) == items[3]
    with pytest.raises(KeyError):
        queue.remove(keys[3])
    assert queue[0] == items[0] and len(queue) == 39


def test_a_home_puts_items_together_in_order():
    queue = ShardedQueue()
    place = ready_key(100.0)
    keys = [queue.insert(item, place, home=7) for item in (11, 12, 13)]
    assert {key % SHARDS for key in keys} == {7}
    assert [queue.take(prefer=(3, 8)) for _ in range(3)] == [11, 12, 13]


def test_without_preference_the_global_front_comes_first():
    queue = ShardedQueue()
    for item in range(50, 10, -1):      # newest first in each millisecond
        queue.insert(item, ready_key(100.0 + item / 1000.0))
    assert [queue.take() for _ in range(40)] == list(range(11, 51))
    with pytest.raises(IndexError):
        queue.take()


def test_a_worker_prefers_its_shard_within_the_tolerance():
    queue = ShardedQueue()
    queue.insert(16, ready_key(100.0))           # shard 0, the front
    queue.insert(17, ready_key(100.5))           # shard 1, 0.5 s later
    queue.insert(25, ready_key(102.0))           # shard 1, 2 s later
    assert queue.take(prefer=(1, 8)) == 17            # within one second
    assert queue.take(prefer=(1, 8)) == 16            # 25 is too far behind
    assert queue.take(prefer=(1, 8)) == 25


def test_with_fewer_workers_than_shards_each_has_several():
    queue = ShardedQueue()
    for item in (9, 13, 10):                     # shards 1, 5, 2
        queue.insert(item, ready_key(100.0 + item / 1000.0))
    # worker 1 of 4 has shards 1 and 5: the earlier front first
    assert [queue.take(prefer=(1, 4)) for _ in range(2)] == [9, 13]
    assert queue.take(prefer=(1, 4)) == 10       # then it steals


def test_a_worker_whose_shard_is_empty_steals_a_near_front():
    queue = ShardedQueue()
    for item in (8, 9, 10):                      # shards 0, 1, 2
        queue.insert(item, ready_key(100.0))
    queue.insert(11, ready_key(200.0))           # shard 3, far behind
    taken = queue.take(prefer=(5, 8), rng=random.Random(1))
    assert taken in (8, 9, 10)
    rest = {queue.take(prefer=(5, 8)) for _ in range(2)}
    assert rest == {8, 9, 10} - {taken}
    assert queue.take(prefer=(5, 8)) == 11


def test_put_goes_back_to_the_shard_its_key_names():
    queue = ShardedQueue()
    key = queue.insert(21, ready_key(100.0))
    assert queue.take() == 21
    assert queue.put(21, key) == key             # the same place
    assert queue.shards[key % SHARDS].get(key) == 21
    assert queue.put(22) % SHARDS == 22 % SHARDS  # at the end
    assert list(queue) == [21, 22]


def test_an_unsharded_queue_becomes_the_first_shard(service):
    old = BTreeQueue()
    keys = [old.insert(item, ready_key(100.0) + item) for item in (5, 6)]
    service._queue = old
    queue = shards.shard(service)
    assert queue.shards[0] is old and len(queue) == 2
    assert [queue.get(key) for key in keys] == [5, 6]
    assert queue.remove(keys[1]) == 6            # found in the old shard
    assert shards.shard(service) is queue


def test_a_lone_worker_claims_in_the_exact_order(service, noted):
    ids = [service.add('note', n, now=100.0 + n / 100.0) for n in range(30)]
    transaction.commit()
    assert Dispatch(service).claimJobs(101.0, 30, 'w1') == ids


def test_two_workers_claiming_at_once_do_not_conflict(db, service, noted):
    """Each takes the front of its shard and defers or makes the index
    writes alone: both claims commit."""
    ids = [service.add('note', n, now=100.0) for n in range(800)]
    transaction.commit()
    # both become live workers (a claim of one job each)
    assert len(Dispatch(service).claimJobs(101.0, 1, 'w1')) == 1
    transaction.commit()
    with testing.open_service(db, service._p_oid) as (_, tm, other):
        assert len(Dispatch(other).claimJobs(101.0, 1, 'w2')) == 1
        tm.commit()
        for round in range(3):
            now = 101.1 + round / 10.0
            transaction.begin()                    # both see both records
            tm.begin()
            first = Dispatch(service).claimJobs(now, 20, 'w1')
            second = Dispatch(other).claimJobs(now, 20, 'w2')
            transaction.commit()
            tm.commit()                            # no ConflictError
            assert len(first) == len(second) == 20
            assert not set(first) & set(second)
        tm.begin()
    transaction.begin()
    claimed = [jobid for jobid in ids
               if service.jobs[jobid].status == PROCESSING]
    assert len(claimed) == 2 + 6 * 20
    assert service.checkIndex() == []


def test_jobs_of_one_serialization_tag_keep_their_order_across_workers(
        service, noted):
    service.add('note', 'first', now=99.0)
    one = service.add('note', 'one', serializationTag='t', now=100.0)
    two = service.add('note', 'two', serializationTag='t', now=100.0)
    for n in range(20):
        service.add('note', n, now=100.0)
    transaction.commit()
    assert service.jobs[one].queueKey % SHARDS == \
        service.jobs[two].queueKey % SHARDS
    dispatch = Dispatch(service)
    dispatch.claimJobs(100.0, 1, 'w2')            # w2 is live
    dispatch.foldJobs('w2', 100.0)
    claimed = []
    for owner in ('w1', 'w2', 'w1', 'w2'):
        claimed += dispatch.claimJobs(101.0, 30, owner)
    assert one in claimed
    assert two not in claimed                     # held behind one
    dispatch.finishJob(one, 102.0)
    for owner in ('w1', 'w2'):
        dispatch.foldJobs(owner, 103.0)
    assert two in dispatch.claimJobs(104.0, 30, 'w1') + \
        dispatch.claimJobs(104.0, 30, 'w2')
