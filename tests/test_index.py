"""Listing, filtering, sorting and statistics over the job index."""

import pytest
import transaction

from zodbtasks import service as service_module
from zodbtasks.interfaces import COMPLETED
from zodbtasks.interfaces import ERROR
from zodbtasks.interfaces import QUEUED
from index_helpers import cold


@pytest.fixture
def mixed(service, tasks, quiet, monkeypatch):
    """Six jobs: echo a (done at 10), fail b (error at 20), echo c (queued),
    counter d (done at 30), fail e (error at 40), echo f (queued)."""
    moments = iter(range(1000, 1006))
    monkeypatch.setattr(service_module.clock, 'now', lambda: next(moments))
    ids = {}
    for name, task in zip('abcdef', ['echo', 'fail', 'echo', 'counter',
                                     'fail', 'echo']):
        ids[name] = service.add(task, name, startLater=name in 'cf')
    transaction.commit()
    for now in (10, 20, 30, 40):   # runs a, b, d, e in that order
        service.processNext(now)
    return ids


def _names(ids, jobs):
    by_id = {v: k for k, v in ids.items()}
    return ''.join(by_id[job.id] for job in jobs)


def test_newest_first_by_default(service, mixed):
    total, jobs = service.queryJobs()
    assert total == 6 and _names(mixed, jobs) == 'fedcba'


def test_oldest_first(service, mixed):
    assert _names(mixed, service.queryJobs(reverse=False)[1]) == 'abcdef'


def test_paging(service, mixed):
    total, jobs = service.queryJobs(start=2, size=3)
    assert total == 6 and _names(mixed, jobs) == 'dcb'


def test_filter_by_status(service, mixed):
    total, jobs = service.queryJobs(status=ERROR)
    assert total == 2 and _names(mixed, jobs) == 'eb'


def test_filter_by_task(service, mixed):
    total, jobs = service.queryJobs(task='echo')
    assert total == 3 and _names(mixed, jobs) == 'fca'


def test_filter_by_status_and_task(service, mixed):
    total, jobs = service.queryJobs(status=COMPLETED, task='echo')
    assert total == 1 and _names(mixed, jobs) == 'a'


def test_filter_matching_nothing(service, mixed):
    assert service.queryJobs(task='nosuch') == (0, [])
    assert service.queryJobs(status=QUEUED, task='counter') == (0, [])


def test_sort_by_task_then_id(service, mixed):
    jobs = service.queryJobs(sortOn='task', reverse=False)[1]
    assert _names(mixed, jobs) == 'dacfbe'


def test_sort_by_status(service, mixed):
    jobs = service.queryJobs(sortOn='status', reverse=False)[1]
    assert [j.status for j in jobs] == sorted(j.status for j in jobs)


def test_sort_by_completed_puts_unfinished_last(service, mixed):
    assert _names(mixed, service.queryJobs(
        sortOn='completed', reverse=False)[1]) == 'abdecf'
    assert _names(mixed, service.queryJobs(
        sortOn='completed')[1]) == 'edbafc'


def test_sort_by_started_with_filter(service, mixed):
    jobs = service.queryJobs(sortOn='started', task='fail')[1]
    assert _names(mixed, jobs) == 'eb'


def test_unknown_sort_key(service):
    with pytest.raises(ValueError, match="'input'"):
        service.queryJobs(sortOn='input')


def test_count_by_task(service, mixed):
    assert service.countByTask() == {'echo': 3, 'fail': 2, 'counter': 1}


def test_finished_per_minute(service, tasks):
    for _ in range(3):
        service.add('echo')
    transaction.commit()
    service.processNext(now=3600 - 30)
    service.processNext(now=3600 - 90)
    service.processNext(now=3600 - 3000)
    counts = service.finishedPerMinute(now=3600, minutes=60)
    assert len(counts) == 60 and sum(counts) == 3
    assert counts[-1] == 1 and counts[-2] == 1 and counts[10] == 1


def test_deleted_jobs_leave_the_index(service, mixed):
    assert service.delete(mixed['a']) is True
    assert service.queryJobs(sortOn='completed')[0] == 5
    assert mixed['a'] not in [j.id for j in service.queryJobs(
        sortOn='completed', size=10)[1]]
    assert service.countByTask()['echo'] == 2


def test_clean_empties_time_index(service, mixed):
    transaction.commit()
    service.clean()
    assert service.finishedPerMinute(now=60) == [0] * 60
    assert service.queryJobs(sortOn='completed')[0] == 2


@pytest.mark.parametrize('query', [
    {}, {'status': QUEUED}, {'task': 'echo'}, {'sortOn': 'task'},
    {'sortOn': 'status', 'reverse': False}, {'sortOn': 'completed'},
])
def test_first_page_loads_only_a_page_of_jobs(service, tasks, query):
    for start in range(0, 3000, 1000):
        for _ in range(1000):
            service.add('echo')
        transaction.commit()
    with cold(service) as (conn, svc):
        total, jobs = svc.queryJobs(size=20, **query)
        loads, _ = conn.getTransferCounts()
    assert total == 3000 and len(jobs) == 20
    assert loads < 80   # 20 jobs and a few buckets, not 3000 jobs


def test_descending_over_ints_with_low_bound():
    from BTrees.LLBTree import LLTreeSet
    from zodbtasks.index import descending
    assert list(descending(LLTreeSet([0, 3, 7, 9]), low=1)) == [9, 7, 3]


def test_descending_over_time_id_pairs():
    from BTrees.OOBTree import OOTreeSet
    from zodbtasks.index import descending
    keys = [(1.5, 2), (1.5, 9), (3.0, 1)]
    assert list(descending(OOTreeSet(keys))) == list(reversed(keys))


def test_descending_over_empty_tree():
    from BTrees.LOBTree import LOBTree
    from zodbtasks.index import descending
    assert list(descending(LOBTree())) == []


def test_sets_that_grow_one_job_at_a_time_have_small_leaves(service, tasks):
    """A task's ids (and a tag's, a priority's) grow at their end with
    every add(), which rewrites the last leaf: they are TailIdSets; the
    status sets and the holders, which folds change by many ids at once,
    keep the larger leaves; groups stored by 0.2 and before (without
    ``set_class``) keep making IdSets."""
    from BTrees.OOBTree import OOBTree
    from zodbtasks.index import _Groups
    from zodbtasks.trees import Counts
    from zodbtasks.trees import IdSet
    from zodbtasks.trees import TailIdSet
    service.add('echo', 1, tag='t', priority=3)
    index = service._index
    assert type(index.by_task.sets['echo']) is TailIdSet
    assert type(index.by_tag.sets['t']) is TailIdSet
    assert type(index.by_priority.sets[3]) is TailIdSet
    assert type(index.by_status.sets['queued']) is IdSet
    # the holders shrink by many ids in each fold, as the status sets
    assert type(service._holders.sets[('task', 'echo')]) is IdSet
    assert TailIdSet.max_leaf_size < IdSet.max_leaf_size
    old = _Groups.__new__(_Groups)
    old.__setstate__({'sets': OOBTree(), 'counts': Counts()})
    old.add('x', 5)
    assert type(old.sets['x']) is IdSet
