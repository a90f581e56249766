"""Several worker processes on one ZEO server: many jobs, a worker killed
with SIGKILL, the ZEO server restarted in the middle of a run."""
import time

import pytest
from persistent.mapping import PersistentMapping

from zodbtasks.interfaces import COMPLETED
from zodbtasks.interfaces import ERROR
from zodbtasks.interfaces import PROCESSING
from zodbtasks.job import RetryPolicy

from .conftest import DEADLINE
from .conftest import wait_for
from .consistency import index_mismatches

#: How long a whole run may take.
RUN_DEADLINE = 300.0


def jobs_of(service, ids):
    return [service.jobs[jobid] for jobid in ids]


def assert_each_ran_once(jobs):
    """Every job completed without error, its counter at exactly 1."""
    assert [job for job in jobs if job.status != COMPLETED] == []
    assert [job for job in jobs if job.error is not None] == []
    assert [job for job in jobs if job.input['value'] != 1] == []


@pytest.mark.slow
def test_three_workers_two_threads_each_run_5000_jobs_once(workers,
                                                           zeo_service):
    ids = zeo_service.add_counted(5000, batch=1000)
    # Started together: they open the database and claim at once.
    started = [workers.start(threads=2, wait=False) for _ in range(3)]
    for worker in started:
        workers.wait_started(worker)
    jobs = zeo_service.wait_finished(ids, RUN_DEADLINE)
    assert_each_ran_once(jobs)
    assert {job.attempts for job in jobs} == {1}
    # All three processes worked (and only they).
    assert {job.output for job in jobs} == {w.pid for w in started}
    for worker in started:
        assert workers.stop(worker) == 0
    counts = zeo_service.counts()
    assert counts[COMPLETED] == 5000
    assert counts[PROCESSING] == 0


@pytest.mark.slow
def test_jobs_of_a_killed_worker_run_again_once_its_lease_expired(
        workers, zeo_service):
    zeo_service.set(leaseTimeout=2.0)
    victim = workers.start(threads=2)
    # One thread of the victim claims the never-retry job with the 19 jobs
    # committed with it (a claim takes up to 20 jobs) and runs it first,
    # for 60 s; the other runs an idempotent 8 s job.
    never_retry, *claimed = zeo_service.add_jobs(
        [('hold', 60.0, {'retryPolicy': RetryPolicy(idempotent=False)})]
        + [('count', PersistentMapping(value=0, sleep=0.01), {})
           for _ in range(19)])
    running = zeo_service.add('hold', 8.0)
    wait_for(lambda: all(victim.owns(job) for job in jobs_of(
        zeo_service.fresh(), [never_retry, running] + claimed)),
        DEADLINE, 'the victim did not claim its jobs')
    ids = zeo_service.add_counted(400, sleep=0.01)
    others = [workers.start(threads=2) for _ in range(2)]
    wait_for(lambda: zeo_service.counts()[COMPLETED] >= 50, DEADLINE,
             'the other workers did not work')
    workers.kill(victim)
    service = zeo_service.fresh()
    lost = {job.id: job.owner for job in jobs_of(service, claimed + ids)
            if job.status == PROCESSING and victim.owns(job)}
    lost[running] = service.jobs[running].owner
    assert set(claimed) <= set(lost)
    assert service.jobs[running].status == PROCESSING
    last_beats = {record['id']: record['heartbeat']
                  for record in service.workers()}

    jobs = zeo_service.wait_finished(claimed + ids + [running, never_retry],
                                     RUN_DEADLINE)
    assert_each_ran_once(jobs[:-2])
    service = zeo_service.fresh()
    for jobid, owner in lost.items():  # run again once the lease expired
        job = service.jobs[jobid]
        assert (job.status, job.attempts) == (COMPLETED, 2)
        assert not victim.owns(job)
        assert job.started > last_beats[owner] + 2.0
    runs = workers.runs_by_job()
    # The job the victim was running ran again elsewhere ...
    assert runs[running][0] == victim.pid
    assert runs[running][1:] == [other.pid for other in others
                                 if other.owns(service.jobs[running])]
    # ... but the never-retry one did not: it failed.
    job = service.jobs[never_retry]
    assert (job.status, job.attempts) == (ERROR, 1)
    assert job.error.startswith('worker lost: ')
    assert 'not idempotent' in job.error
    assert runs[never_retry] == [victim.pid]
    for worker in others:
        assert workers.stop(worker) == 0
    assert service.stuckJobs() == []


@pytest.mark.slow
@pytest.mark.parametrize('zeo_instance, outage', [
    # The workers' requests wait for the server (up to 30 s): the
    # outage only delays them, and breaks the commits under way.
    (None, 2.0),
    # Requests give up after 2 s: during the outage, claims, jobs and
    # heartbeats fail with ClientDisconnected.
    (2, 6.0),
    # Ten wait-timeouts, as five minutes are with ZODB's 30 s: far beyond
    # the five conflict attempts of a job, which an outage must not use.
    (1, 10.0),
], ids=['short', 'longer-than-wait-timeout', 'five-minutes-equivalent'],
    indirect=['zeo_instance'])
def test_workers_reconnect_after_a_zeo_restart_and_finish(
        workers, zeo_service, zeo_server, outage):
    started = [workers.start(threads=2) for _ in range(2)]
    ids = zeo_service.add_counted(1000, sleep=0.005)
    wait_for(lambda: zeo_service.counts()[COMPLETED] >= 200, DEADLINE,
             'the workers did not work')
    zeo_server.stop()
    time.sleep(outage)  # the outage itself
    zeo_server.start()
    jobs = zeo_service.wait_finished(ids, RUN_DEADLINE)
    assert_each_ran_once(jobs)
    for worker in started:
        assert workers.stop(worker) == 0
        # The outage is logged once per thread and state change.
        assert worker.output().count('the storage is unavailable') <= 2 * 2
    service = zeo_service.fresh()
    assert service.stuckJobs() == []
    assert index_mismatches(service) == []


def kill_one_and_restart_zeo(workers, zeo_service, zeo_server, jobs=1500):
    """Three workers over ZEO, kill -9 of one, then the ZEO server stopped
    for 3 s and restarted; return the jobs, the surviving workers and the
    killed one once every job finished."""
    zeo_service.set(leaseTimeout=2.0)
    started = [workers.start(threads=2) for _ in range(3)]
    ids = zeo_service.add_counted(jobs, sleep=0.002)
    wait_for(lambda: zeo_service.counts()[COMPLETED] >= jobs // 5, DEADLINE,
             'the workers did not work')
    victim = started[0]
    workers.kill(victim)
    zeo_server.stop()
    time.sleep(3.0)  # the outage itself
    zeo_server.start()
    return zeo_service.wait_finished(ids, RUN_DEADLINE), started[1:], victim


@pytest.mark.slow
def test_indexes_match_the_jobs_after_a_kill_and_a_zeo_restart(
        workers, zeo_service, zeo_server):
    jobs, survivors, victim = kill_one_and_restart_zeo(
        workers, zeo_service, zeo_server)
    assert [(job.id, job.status, job.attempts, job.error) for job in jobs
            if job.status != COMPLETED] == []
    assert [job for job in jobs if job.input['value'] != 1] == []
    for worker in survivors:
        assert workers.stop(worker) == 0
    # The killed worker's record goes once its lease expired: the
    # survivors swept it (folding what it finished) for its jobs to run.
    service = zeo_service.fresh()
    assert service.workers() == []
    assert index_mismatches(service) == []
