"""Pages of jobs (zodbtasks.listing): every filter, sort, order and page,
against the same query answered by sorting the jobs themselves."""
import itertools

import pytest
import transaction

from zodbtasks import runner
from zodbtasks.interfaces import SORT_KEYS
from index_helpers import cold

T0 = 1_000_000.0
STATUSES = (None, 'completed', 'error', 'queued', 'blocked', 'cancelled',
            'processing')


@pytest.fixture
def mixed(service, tasks, quiet):
    """300 jobs of echo, fail and counter (the sets of completed jobs are
    large enough to drop their sentinel, the others keep theirs): run,
    failed, cancelled, queued, blocked, delayed, started later and
    claimed, with tags 'a' and 'b' and three priorities."""
    for n in range(240):
        service.add(('echo', 'fail', 'counter')[n % 3], n,
                    tag=('a',) * (n % 4 == 0) + ('b',) * (n % 5 == 0),
                    priority=(0, 0, 3, -1)[n % 4], now=T0 + n)
        if n % 60 == 59:
            transaction.commit()
            service.process(now=T0 + n + 0.5)
    for n in range(240, 300):
        jobid = service.add(('echo', 'counter')[n % 2], n,
                            tag=('a',) * (n % 3 == 0), now=T0 + n,
                            priority=n % 3, startLater=n % 10 == 1,
                            at=T0 + 9999 if n % 10 == 2 else None)
        if n % 10 == 3:
            service.cancel(jobid)
        if n % 10 == 4:
            service.add('echo', n, after=(jobid,), now=T0 + n)
    transaction.commit()
    runner.claim(service, transaction.manager, T0 + 400, 5, owner='gone')
    return service


def _index_status(service, job):
    for status, ids in service._index.by_status.sets.items():
        if job.id in ids:
            return status
    raise AssertionError(job)


def _reference(service, status, task, tag, sort_on, reverse):
    """The ids of the query, sorted from the jobs themselves."""
    index = service._index
    jobs = [job for job in service.jobs.values()
            if (status is None or _index_status(service, job) == status)
            and (task is None or job.task == task)
            and (tag is None or tag in job.tags)]
    if sort_on == 'id':
        return sorted((job.id for job in jobs), reverse=reverse)
    if sort_on in ('task', 'status'):
        value = job_task if sort_on == 'task' else (
            lambda job: _index_status(service, job))
        return [job.id for job in sorted(
            jobs, key=lambda job: (value(job), job.id), reverse=reverse)]
    tree = getattr(index, sort_on)
    timed = [job for job in jobs if getattr(job, sort_on) is not None
             and (getattr(job, sort_on), job.id) in tree]
    untimed = [job for job in jobs if job not in timed]
    return [job.id for job in sorted(
        timed, key=lambda job: (getattr(job, sort_on), job.id),
        reverse=reverse)] + sorted((job.id for job in untimed),
                                   reverse=reverse)


def job_task(job):
    return job.task


@pytest.mark.parametrize('sort_on', SORT_KEYS)
def test_every_filter_order_and_page_matches_the_jobs(mixed, sort_on):
    service = mixed
    for status, task, tag, reverse in itertools.product(
            STATUSES, (None, 'echo', 'fail', 'nosuch'), (None, 'a'),
            (True, False)):
        expected = _reference(service, status, task, tag, sort_on, reverse)
        total = len(expected)
        for start in sorted({0, 7, total // 2, total - 9, total - 1,
                             total, total + 3}):
            if start < 0:
                continue
            found, jobs = service.queryJobs(
                status=status, task=task, tag=tag, sortOn=sort_on,
                reverse=reverse, start=start, size=8)
            assert found == total
            assert [job.id for job in jobs] == expected[start:start + 8], (
                status, task, tag, reverse, start)


def test_an_unknown_tag_or_task_matches_nothing(mixed):
    assert mixed.queryJobs(tag='nosuch') == (0, [])
    assert mixed.queryJobs(tag='nosuch', status='completed') == (0, [])
    assert mixed.queryJobs(task='nosuch', sortOn='task') == (0, [])


@pytest.fixture
def many(service, tasks, quiet):
    """6,000 jobs: a third echo, a third counter, a third fail (1,998
    of them: they end in error)."""
    for batch in range(6):
        for n in range(1000):
            service.add(('echo', 'counter', 'fail')[n % 3], n,
                        now=T0 + batch * 1000 + n)
        transaction.commit()
        service.process(now=T0 + batch * 1000 + 999)
    return service


FAR_PAGES = [
    {'start': 5980}, {'start': 5980, 'reverse': False},
    {'start': 5980, 'sortOn': 'task'}, {'start': 5980, 'sortOn': 'status'},
    {'status': 'error', 'task': 'fail'},
    {'status': 'error', 'task': 'fail', 'start': 1970},
]


def test_far_pages_load_a_page_of_jobs(many):
    for query in FAR_PAGES:
        with cold(many) as (conn, svc):
            total, jobs = svc.queryJobs(size=20, **query)
            loads, _ = conn.getTransferCounts()
        assert len(jobs) == 20 and total > 1990, query
        assert loads < 120, query  # 20 jobs and a few paths of buckets
    # sorted by task, the completed jobs of echo come before (or after)
    # those of counter: the page of counter's first jobs walks no echo
    index = many._index
    echo = index.count_by_status_and_task('completed', 'echo')
    counter = index.count_by_status_and_task('completed', 'counter')
    for reverse, start, task in ((True, echo, 'counter'),
                                 (False, counter, 'echo')):
        with cold(many) as (conn, svc):
            total, jobs = svc.queryJobs(status='completed', sortOn='task',
                                        reverse=reverse, start=start,
                                        size=20)
            loads, _ = conn.getTransferCounts()
            tasks = {job.task for job in jobs}
        assert total == echo + counter and tasks == {task}
        assert loads < 120, reverse


def test_leapfrog_yields_the_common_ids_in_order():
    import random
    from BTrees.LLBTree import LLTreeSet
    from zodbtasks.listing import leapfrog
    rng = random.Random(7)
    for _ in range(200):
        sets = [set(rng.sample(range(1, 400), rng.randint(0, 300)))
                for _ in range(rng.randint(2, 4))]
        trees = [LLTreeSet(ids | ({0} if rng.random() < 0.5 else set()))
                 for ids in sets]
        common = sorted(set.intersection(*sets))
        assert list(leapfrog(trees, False)) == common
        assert list(leapfrog(trees, True)) == common[::-1]
