"""Tallies (zodbtasks.tallies): jobs per task and status, and per priority
and status, kept as the index changes, against counts of the jobs."""
import collections

import pytest
import transaction

from zodbtasks import runner
from zodbtasks import tallies
from zodbtasks import testing
from zodbtasks.interfaces import STATUSES
from index_helpers import forget_tallies

T0 = 1_000_000.0
WAITING_LIKE = [status for status in STATUSES
                if status not in ('processing', 'completed')]


def _index_status(index, jobid):
    found = [status for status, ids in index.by_status.sets.items()
             if jobid in ids]
    assert len(found) == 1, (jobid, found)
    return found[0]


def _by_task(service):
    index = service._index
    return collections.Counter(
        (job.task, _index_status(index, job.id))
        for job in service.jobs.values())


def _by_priority(service):
    index = service._index
    counts = collections.Counter(
        job.priority for job in service.jobs.values()
        if _index_status(index, job.id) in WAITING_LIKE)
    return dict(sorted(counts.items()))


def _assert_tallied(service):
    index = service._index
    expected = _by_task(service)
    for task in set(index.by_task.values()) | {'nosuch'}:
        for status in STATUSES:
            assert index.count_by_status_and_task(status, task) \
                == expected[(task, status)], (task, status)
    assert index.count_by_priority(service.jobs) == _by_priority(service)
    assert tallies.problems(index.task_tally, 'task', False) == []
    assert tallies.problems(index.priority_tally, 'priority', False) == []


def _work(service, rounds=3):
    """Jobs of every status, in several transactions."""
    for number in range(rounds):
        base = T0 + 100 * number
        for n in range(40):
            service.add(('echo', 'fail', 'counter')[n % 3], n,
                        priority=(0, 2, 0, -4, 0)[n % 5], now=base + n)
        blocker = service.add('echo', 'blocker', now=base + 50)
        service.add('counter', 'blocked', after=(blocker,), priority=2,
                    now=base + 51)
        service.cancel(service.add('fail', 'x', priority=-4, now=base + 52))
        service.add('echo', 'later', startLater=True, priority=7,
                    now=base + 53)
        service.add('echo', 'delayed', at=base + 10 ** 6, now=base + 54)
        transaction.commit()
        runner.drain(service, now=base + 60, limit=30)
        runner.claim(service, transaction.manager, base + 61, 3,
                     owner='gone-%d' % number)


def test_a_new_index_tallies_as_jobs_change(service, tasks, quiet):
    index = service._index
    assert index.task_tally is not None and index.by_priority is not None
    _work(service)
    _assert_tallied(service)
    for jobid in list(service.jobs.keys())[:5]:
        service.delete(jobid)
    service.retry(next(iter(index.ids_by_status('error'))), now=T0 + 999)
    transaction.commit()
    service.clean(['completed'])
    transaction.commit()
    _assert_tallied(service)


def test_the_counts_match_count_by_priority(service, tasks, quiet):
    _work(service, rounds=1)
    assert service._index.count_by_priority(service.jobs) \
        == service.countByPriority()


def test_a_cron_job_that_changes_its_task_moves_in_the_tally(service, tasks,
                                                            quiet):
    jobid = service.addCronJob('echo', minute=(5,), now=T0)
    transaction.commit()
    index = service._index
    assert index.count_by_status_and_task('cronjob', 'echo') == 1
    service.updateCronJob(jobid, 'counter', minute=(6,))
    transaction.commit()
    assert index.count_by_status_and_task('cronjob', 'echo') == 0
    assert index.count_by_status_and_task('cronjob', 'counter') == 1
    _assert_tallied(service)


def test_an_older_index_gets_its_tallies_on_first_use(service, tasks,
                                                      quiet):
    _work(service, rounds=1)
    forget_tallies(service._index)
    transaction.commit()
    _work(service, rounds=1)   # nothing tallies these changes
    index = service._index
    assert index.task_tally is None and index.by_priority is None
    _assert_tallied(service)
    transaction.commit()
    _work(service, rounds=2)   # and from now on they are tallied
    _assert_tallied(service)
    assert service.checkIndex() == []


def test_a_read_only_connection_counts_without_storing(service, tasks,
                                                       quiet, tmp_path):
    _work(service, rounds=1)
    forget_tallies(service._index)
    transaction.commit()
    expected = _by_task(service)
    db = service._p_jar.db()
    conn = db.open(transaction_manager=transaction.TransactionManager())
    conn.isReadOnly = lambda: True
    try:
        index = conn.get(service._index._p_oid)
        assert index.count_by_status_and_task('error', 'fail') \
            == expected[('fail', 'error')]
        assert index.count_by_priority(conn.get(service.jobs._p_oid)) \
            == _by_priority(service)
        assert index.task_tally is None and not conn._registered_objects
    finally:
        conn.transaction_manager.abort()
        conn.close()


def test_concurrent_changes_of_one_row_merge(service, tasks, quiet):
    for n in range(5):
        service.add('echo', n, now=T0 + n)
    service.cancel(list(service.jobs.keys())[-1])  # the sets are made
    transaction.commit()
    db = service._p_jar.db()
    with testing.open_service(db, service._p_oid) as (_, tm1, one), \
            testing.open_service(db, service._p_oid) as (_, tm2, two):
        first, second = list(one.jobs.keys())[:2]
        one.cancel(first)
        two.cancel(second)
        tm1.commit()
        tm2.commit()
    transaction.begin()
    assert service._index.count_by_status_and_task('cancelled', 'echo') == 3
    assert service._index.count_by_status_and_task('queued', 'echo') == 2


def test_problems_finds_a_change_the_tally_missed_and_repair_counts_again(
        service, tasks, quiet):
    _work(service, rounds=1)
    index = service._index
    jobid = next(iter(index.ids_by_status('queued')))
    index.by_status.sets['queued'].remove(jobid)   # behind the tally's back
    index.by_status.sets['error'].add(jobid)
    index.by_status.counts.change('queued', -1)
    index.by_status.counts.change('error', 1)
    found = tallies.problems(index.task_tally, 'task', True)
    task = service.jobs[jobid].task
    assert len(found) == 1 and found[0].startswith(
        'task tally of %r is ' % task)
    assert tallies.problems(index.task_tally, 'task', False) == []
    assert index.count_by_status_and_task('error', service.jobs[jobid].task) \
        == _by_task(service)[(service.jobs[jobid].task, 'error')]


def test_a_row_resolves_conflicts_by_adding_both_changes():
    row = tallies.Row()
    old = (1, 2, 3)
    assert row._p_resolveConflict(old, (2, 2, 3), (1, 1, 3, 1)) \
        == (2, 1, 3, 1)


@pytest.mark.parametrize('stale', [True, False])
def test_a_wrong_remembered_value_is_looked_up_again(service, tasks, quiet,
                                                     stale):
    jobid = service.add('echo', now=T0)
    transaction.commit()
    groups = service._index.by_task
    if stale:
        tallies._memo(groups)[jobid] = 'counter'
    assert tallies.find(groups, jobid) == 'echo'
    assert tallies.find(groups, jobid + 1) is None


def test_check_index_reports_a_wrong_tally_and_rebuild_repairs_it(
        service, tasks, quiet):
    _work(service, rounds=1)
    index = service._index
    row = index.task_tally.table['echo']
    row.change('queued', 2)
    index.priority_tally.table[2].change('error', -1)
    jobid = next(job.id for job in service.jobs.values()
                 if job.priority == -4 and job.status == 'cancelled')
    index.by_priority.sets[-4].remove(jobid)
    transaction.commit()
    found = service.checkIndex()
    assert 'job %d: missing from the set of priority -4' % jobid in found
    assert [line.partition(' is ')[0] for line in found
            if 'tally' in line] == ["task tally of 'echo'",
                                    'priority tally of -4',
                                    'priority tally of 2']
    assert service.rebuildIndex() != []
    assert service.checkIndex() == []
    _assert_tallied(service)
