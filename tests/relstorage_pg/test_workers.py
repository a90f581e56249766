"""zodbtasks-worker processes on a history-free RelStorage: three
processes of two threads, one killed with SIGKILL: no job is lost or
runs its effects twice, also with PostgreSQL restarted in the middle of
a run."""
import re

import pytest

from zeo.conftest import DEADLINE
from zeo.conftest import wait_for
from zeo.consistency import index_mismatches
from zodbtasks.interfaces import COMPLETED
from zodbtasks.interfaces import ERROR

#: How long a whole run may take.
RUN_DEADLINE = 120.0
JOBS = 3000
#: Jobs added per transaction while the workers run (see the tests).
ADD_BATCH = 100


def assert_each_ran_once(jobs):
    """Every job completed without error, its counter at exactly 1."""
    assert [(job.id, job.status, job.attempts, job.error) for job in jobs
            if job.status != COMPLETED or job.error is not None] == []
    assert [job.id for job in jobs if job.input['value'] != 1] == []


def completed_at_least(rs_service, number):
    return lambda: rs_service.counts()[COMPLETED] >= number


def dead_threads(worker):
    """The names of ``worker``'s threads that ended on an exception."""
    return re.findall(r'^Exception in thread (\S+):$', worker.output(),
                      re.MULTILINE)


def wait_finished_or_dead(rs_service, survivors):
    """Wait until every job finished, or a thread of a survivor died
    (then nothing would finish them)."""
    def done():
        counts = rs_service.counts()
        return counts[COMPLETED] + counts[ERROR] >= JOBS \
            or any(dead_threads(w) for w in survivors)
    wait_for(done, RUN_DEADLINE, 'the jobs did not finish')


@pytest.mark.slow
@pytest.mark.parametrize('threads', [1, 2])
def test_three_workers_run_3000_jobs_once_despite_a_kill(workers,
                                                         rs_service,
                                                         threads):
    rs_service.set(leaseTimeout=2.0)
    started = [workers.start(threads=threads, wait=False)
               for _ in range(3)]
    for worker in started:
        workers.wait_started(worker)
    # Transactions of 100 adds: 500 split the small shards' only buckets,
    # which then conflict with every concurrent claim (seen once in CI)
    ids = rs_service.add_counted(JOBS, sleep=0.002, batch=ADD_BATCH)
    wait_for(completed_at_least(rs_service, JOBS // 5), DEADLINE,
             'the workers did not work')
    victim, survivors = started[0], started[1:]
    workers.kill(victim)
    wait_finished_or_dead(rs_service, survivors)
    assert {w.pid: dead_threads(w) for w in survivors} == {
        w.pid: [] for w in survivors}
    jobs = rs_service.wait_finished(ids, DEADLINE)
    assert_each_ran_once(jobs)
    # The survivors worked (the victim too, unless it was slow to start).
    assert {w.pid for w in survivors} <= {job.output for job in jobs} \
        <= {w.pid for w in started}
    # The survivors sweep the victim's record once its lease expired (the
    # jobs may all be done before: with a sharded queue they need not
    # wait for the victim's).
    mark = ':%d:' % victim.pid
    wait_for(lambda: not [w for w in rs_service.fresh().workers()
                          if mark in w['id']], DEADLINE,
             "the victim's record was not swept")
    for worker in survivors:
        assert workers.stop(worker) == 0
    service = rs_service.fresh()
    assert service.workers() == []
    assert service.checkIndex() == []
    assert index_mismatches(service) == []


@pytest.mark.slow
def test_workers_finish_after_a_kill_and_a_postgresql_restart(
        workers, rs_service, postgresql):
    rs_service.set(leaseTimeout=2.0)
    started = [workers.start(threads=2, wait=False) for _ in range(3)]
    for worker in started:
        workers.wait_started(worker)
    # Transactions of 100 adds: 500 split the small shards' only buckets,
    # which then conflict with every concurrent claim (seen once in CI)
    ids = rs_service.add_counted(JOBS, sleep=0.002, batch=ADD_BATCH)
    wait_for(completed_at_least(rs_service, JOBS // 5), DEADLINE,
             'the workers did not work')
    victim, survivors = started[0], started[1:]
    workers.kill(victim)
    wait_for(completed_at_least(rs_service, JOBS // 2), DEADLINE,
             'the survivors did not work')
    postgresql.restart()  # pg_ctl stop -m fast, then start
    wait_finished_or_dead(rs_service, survivors)
    assert {w.pid: dead_threads(w) for w in survivors} == {
        w.pid: [] for w in survivors}
    jobs = rs_service.wait_finished(ids, DEADLINE)
    assert_each_ran_once(jobs)
    for worker in survivors:
        assert workers.stop(worker) == 0
    service = rs_service.fresh()
    assert service.workers() == []
    assert service.checkIndex() == []
    assert index_mismatches(service) == []
