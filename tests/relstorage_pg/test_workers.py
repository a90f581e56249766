"""zodbtasks-worker processes on a history-free RelStorage: three
processes of two threads, one killed with SIGKILL, PostgreSQL restarted
in the middle of a run; no job is lost or runs its effects twice."""
import pytest

from zeo.conftest import DEADLINE
from zeo.conftest import wait_for
from zeo.consistency import index_mismatches
from zodbtasks.interfaces import COMPLETED

#: How long a whole run may take.
RUN_DEADLINE = 120.0
JOBS = 3000


def assert_each_ran_once(jobs):
    """Every job completed without error, its counter at exactly 1."""
    assert [(job.id, job.status, job.attempts, job.error) for job in jobs
            if job.status != COMPLETED or job.error is not None] == []
    assert [job.id for job in jobs if job.input['value'] != 1] == []


def completed_at_least(rs_service, number):
    return lambda: rs_service.counts()[COMPLETED] >= number


@pytest.mark.slow
def test_three_workers_run_3000_jobs_once_despite_a_kill(workers,
                                                         rs_service):
    rs_service.set(leaseTimeout=2.0)
    started = [workers.start(threads=2, wait=False) for _ in range(3)]
    for worker in started:
        workers.wait_started(worker)
    ids = rs_service.add_counted(JOBS, sleep=0.002, batch=500)
    wait_for(completed_at_least(rs_service, JOBS // 5), DEADLINE,
             'the workers did not work')
    victim, survivors = started[0], started[1:]
    workers.kill(victim)
    jobs = rs_service.wait_finished(ids, RUN_DEADLINE)
    assert_each_ran_once(jobs)
    assert {job.output for job in jobs} == {w.pid for w in started}
    for worker in survivors:
        assert workers.stop(worker) == 0
    service = rs_service.fresh()
    assert service.workers() == []  # the victim's record was swept
    assert service.checkIndex() == []
    assert index_mismatches(service) == []
