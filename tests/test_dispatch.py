"""Claims, worker records, folding, heartbeats, the sweeper, retries."""
import random
import threading

import pytest
import transaction
from zope.interface.verify import verifyObject

from zodbtasks import folding
from zodbtasks import interfaces
from zodbtasks import processor
from zodbtasks import testing
from zodbtasks.interfaces import COMPLETED
from zodbtasks.interfaces import CRONJOB
from zodbtasks.interfaces import ERROR
from zodbtasks.interfaces import PROCESSING
from zodbtasks.interfaces import QUEUED
from zodbtasks.job import RetryPolicy
from zodbtasks import runner
from zodbtasks import transactions
from zodbtasks import wakeup
from zodbtasks.dispatch import Dispatch
from zodbtasks.workers import worker_id

DEADLINE = 10.0


@pytest.fixture(autouse=True)
def no_back_off(monkeypatch):
    monkeypatch.setattr(transactions, 'BACK_OFF', 0.0)


def _tm(service):
    return runner.transaction_manager_of(service)


def _claim(service, owner='w1', now=100.0, limit=10):
    """Claim in a transaction of its own (committing what the test did)."""
    transaction.commit()
    tm = _tm(service)
    return runner.claim(service, tm, now, limit, owner)


def test_service_provides_IJobDispatch(service):
    assert verifyObject(interfaces.IJobDispatch, Dispatch(service))


def test_run_writes_only_the_job(service, tasks):
    jobid = service.add('echo')
    transaction.commit()
    tm = _tm(service)
    _claim(service)
    db = service._p_jar.db()
    before = db.lastTransaction()
    runner.run_job(service, tm, jobid, 100.0, owner='w1')
    [oids] = [[r.oid for r in t] for t in db.storage.iterator(before)
              if t.tid != before]
    classes = sorted(type(service._p_jar.get(oid)).__name__ for oid in oids)
    assert classes == ['Job']


def test_finished_job_is_indexed_at_the_next_claim(service, tasks):
    jobid = service.add('echo')
    transaction.commit()
    tm = _tm(service)
    _claim(service)
    runner.run_job(service, tm, jobid, 100.0, owner='w1')
    assert service.getStatus(jobid) == COMPLETED
    assert service.countByStatus()[PROCESSING] == 1
    _claim(service)                 # plain ends wait to be folded together
    assert service.countByStatus()[PROCESSING] == 1
    _claim(service, now=100.0 + folding.FOLD_INTERVAL)  # claims nothing:
    assert service.countByStatus()[PROCESSING] == 1    # its wake-up folds
    _claim(service, now=100.0 + 2 * folding.FOLD_INTERVAL)
    assert service.countByStatus()[PROCESSING] == 0
    assert service.countByStatus()[COMPLETED] == 1
    assert service.queryJobs(status=COMPLETED)[0] == 1


def test_process_leaves_everything_indexed(service, tasks):
    service.add('echo')
    transaction.commit()
    assert service.processNext(0)
    counts = service.countByStatus()
    assert (counts[PROCESSING], counts[COMPLETED]) == (0, 1)


def test_changes_from_outside_settle_unfolded_jobs(service, tasks, quiet):
    jobid = service.add('fail')
    transaction.commit()
    tm = _tm(service)
    _claim(service)
    runner.run_job(service, tm, jobid, 100.0, owner='w1')
    assert service.retry(jobid) is True
    counts = service.countByStatus()
    assert (counts[PROCESSING], counts[ERROR], counts[QUEUED]) == (0, 0, 1)


def test_claim_records_owner_and_attempts(service, tasks):
    service.leaseTimeout = 30.0
    jobid = service.add('echo')
    _claim(service, owner='w1', now=100.0)
    job = service.jobs[jobid]
    assert (job.owner, job.attempts, job.status) == ('w1', 1, PROCESSING)
    [worker] = service.workers(now=100.0)
    assert worker['id'] == 'w1' and worker['running'] == [jobid]


def test_heartbeat_keeps_a_worker_alive(service, tasks):
    service.leaseTimeout = 30.0
    service.add('echo')
    _claim(service, owner='w1', now=100.0)
    assert service.workers(now=140.0)[0]['alive'] is False
    Dispatch(service).heartbeat('w1', 135.0)
    assert service.workers(now=140.0)[0]['alive'] is True
    assert service.sweep(now=140.0) == 0


def test_sweep_requeues_jobs_of_lost_workers_with_back_off(
        service, tasks, monkeypatch):
    monkeypatch.setattr(random, 'uniform', lambda a, b: 1.0)
    service.leaseTimeout = 30.0
    jobid = service.add('echo', retryPolicy=RetryPolicy(delay=5.0))
    _claim(service, owner='w1', now=100.0)
    assert [j.id for j in service.stuckJobs(now=131.0)] == [jobid]
    assert service.sweep(now=131.0) == 1
    job = service.jobs[jobid]
    assert (job.status, job.scheduledFor) == (QUEUED, 136.0)
    assert job.error.startswith('worker lost: w1 stopped sending')
    assert service.workers(now=131.0) == []
    assert _claim(service, owner='w2', now=135.0) == []
    assert _claim(service, owner='w2', now=136.0) == [jobid]
    assert service.jobs[jobid].attempts == 2


def test_lost_job_that_is_not_idempotent_fails(service, tasks):
    service.leaseTimeout = 30.0
    jobid = service.add('echo', retryPolicy=RetryPolicy(idempotent=False))
    _claim(service, now=100.0)
    service.sweep(now=200.0)
    assert service.getStatus(jobid) == ERROR
    assert service.getError(jobid).startswith('worker lost')
    assert 'not idempotent' in service.getError(jobid)


def test_lost_job_out_of_attempts_fails(service, tasks):
    service.leaseTimeout = 30.0
    jobid = service.add('echo', retryPolicy=RetryPolicy(maxAttempts=1))
    _claim(service, now=100.0)
    service.sweep(now=200.0)
    assert service.getStatus(jobid) == ERROR
    assert 'attempt 1 of 1' in service.getError(jobid)


def test_lost_cron_job_keeps_its_schedule(service, tasks):
    service.leaseTimeout = 30.0
    jobid = service.addCronJob('echo', minute=(10,))
    transaction.commit()
    service.process(0)
    _claim(service, now=600.0)
    service.sweep(now=700.0)
    job = service.jobs[jobid]
    assert (job.status, job.scheduledFor) == (CRONJOB, 4200.0)


def test_sweep_folds_what_a_lost_worker_finished(service, tasks):
    service.leaseTimeout = 30.0
    jobid = service.add('echo')
    transaction.commit()
    _claim(service, now=100.0)
    runner.run_job(service, _tm(service), jobid, 100.0, owner='w1')
    assert service.sweep(now=200.0) == 0
    assert service.countByStatus()[COMPLETED] == 1


def test_job_finished_after_its_worker_was_swept_is_indexed(service, tasks):
    service.leaseTimeout = 30.0
    jobid = service.add('echo', retryPolicy=RetryPolicy(idempotent=False))
    _claim(service, now=100.0)
    record = service._workers['w1']
    service.sweep(now=200.0)   # marks it error
    assert record.id == 'w1' and service.getStatus(jobid) == ERROR
    assert Dispatch(service).finishJob(jobid, 201.0, output='late') is False


def test_retire_forgets_an_idle_worker(service, tasks):
    service.add('echo')
    transaction.commit()
    service.process(0)
    owner = worker_id()
    assert Dispatch(service).retire(owner) is True
    assert service.workers() == []


def test_retire_keeps_a_worker_with_running_jobs(service, tasks):
    service.add('echo')
    _claim(service, owner='w1')
    assert Dispatch(service).retire('w1') is False


def test_failing_task_is_retried_when_the_policy_says_so(
        service, tasks, quiet, monkeypatch):
    monkeypatch.setattr(random, 'uniform', lambda a, b: 1.0)
    jobid = service.add('fail', retryPolicy=RetryPolicy(
        maxAttempts=2, delay=10.0, retryErrors=True))
    transaction.commit()
    service.process(100.0)
    job = service.jobs[jobid]
    assert (job.status, job.scheduledFor, job.attempts) == \
        (QUEUED, 110.0, 1)
    assert service.process(105.0) == 0
    assert service.process(110.0) == 1
    assert service.getStatus(jobid) == ERROR and job.attempts == 2


def test_retry_policy_validation_and_back_off():
    with pytest.raises(ValueError, match='maxAttempts'):
        RetryPolicy(maxAttempts=0)
    with pytest.raises(ValueError, match='delay'):
        RetryPolicy(delay=-1)
    policy = RetryPolicy(delay=2.0)
    rng = random.Random(1)
    assert 2.0 <= policy.backOff(2, rng) <= 6.0
    assert policy.mayRetry(2) and not policy.mayRetry(3)
    assert not RetryPolicy(idempotent=False).mayRetry(1)


def test_several_threads_are_several_workers(service, tasks):
    processors = processor.start(service, threads=2)
    assert [p.name for p in processors] == [
        'zodbtasks.site1.++etc++site.default.jobs',
        'zodbtasks.site1.++etc++site.default.jobs.1']
    assert len({p.owner for p in processors}) == 2
    done = threading.Event()
    testing.register_task('signal', lambda input: done.set())
    service.add('signal')
    transaction.commit()
    assert done.wait(DEADLINE)


def test_stopped_processor_retires_its_worker(service, tasks):
    done = threading.Event()
    testing.register_task('signal', lambda input: done.set())
    service.startProcessing()
    service.add('signal')
    transaction.commit()
    assert done.wait(DEADLINE)
    processor.stop_all()
    transaction.begin()
    assert service.workers() == []


def test_commit_of_another_process_wakes_the_thread(service, tasks,
                                                     monkeypatch):
    """Without the in-process hook and with an hour's poll interval, only
    the change of the database's last transaction can wake the thread."""
    monkeypatch.setattr(wakeup, '_after_commit', lambda ok, key: None)
    service.pollInterval = 3600.0
    transaction.commit()
    done = threading.Event()
    testing.register_task('signal', lambda input: done.set())
    service.startProcessing()
    with testing.open_service(service._p_jar.db(),
                              service._p_oid) as (_, tm2, svc2):
        svc2.add('signal')
        tm2.commit()
        assert done.wait(DEADLINE)


def test_idle_claims_write_nothing(service, tasks):
    service.add('echo')
    transaction.commit()
    db = service._p_jar.db()
    assert _claim(service, owner='w1', now=100.0) != []
    tm = _tm(service)
    runner.fold(service, tm, 'w1')
    before = db.lastTransaction()
    for now in (101.0, 102.0, 103.0):
        assert _claim(service, owner='w1', now=now) == []
    assert db.lastTransaction() == before


def test_claims_renew_a_stale_heartbeat(service, tasks):
    service.leaseTimeout = 40.0   # heartbeat interval 10
    service.add('echo')
    _claim(service, owner='w1', now=100.0)
    _claim(service, owner='w1', now=103.0)
    assert service._workers['w1'].heartbeat == 100.0
    _claim(service, owner='w1', now=106.0)
    assert service._workers['w1'].heartbeat == 106.0


def test_commit_during_a_tick_is_not_lost(service, tasks, monkeypatch):
    """A job committed elsewhere after the tick's claim looked at the
    queue, but before the thread waits, must still wake it."""
    monkeypatch.setattr(wakeup, '_after_commit', lambda ok, key: None)
    service.pollInterval = 3600.0
    transaction.commit()
    done = threading.Event()
    testing.register_task('signal', lambda input: done.set())
    db, oid = service._p_jar.db(), service._p_oid
    real_tick = processor.Processor.tick
    added = []

    def tick_then_commit_elsewhere(self, now=None):
        result = real_tick(self, now)
        if not added:
            with testing.open_service(db, oid) as (_, tm2, svc2):
                added.append(svc2.add('signal'))
                tm2.commit()
        return result
    monkeypatch.setattr(processor.Processor, 'tick',
                        tick_then_commit_elsewhere)
    service.startProcessing()
    assert done.wait(DEADLINE)


def test_jobs_of_a_batch_go_back_when_running_one_breaks(
        service, tasks, monkeypatch):
    ids = [service.add('echo', i) for i in range(4)]
    transaction.commit()
    real_run_job = runner.run_job
    ran = []

    def breaking_run_job(svc, tm, jobid, now=None, owner=None, stop=None):
        if len(ran) == 1:
            raise OSError('the storage went away')
        ran.append(jobid)
        real_run_job(svc, tm, jobid, now, owner)
    monkeypatch.setattr(runner, 'run_job', breaking_run_job)
    with pytest.raises(OSError):
        service.process(0)
    statuses = [service.getStatus(i) for i in ids]
    assert statuses == [COMPLETED, QUEUED, QUEUED, QUEUED]


def test_release_worker_jobs(service, tasks):
    ids = [service.add('echo') for _ in range(3)]
    assert sorted(_claim(service, owner='w1')) == sorted(ids)
    assert Dispatch(service).releaseWorkerJobs('w1') == 3
    assert [service.getStatus(i) for i in ids] == [QUEUED] * 3
    assert Dispatch(service).releaseWorkerJobs('nobody') == 0


def test_a_heartbeat_after_retiring_leaves_no_record(service, tasks):
    """The heartbeat thread may beat once more after its processor
    retired the worker: that beat must not make the record again (a
    stopped worker was left listed, alive, with no jobs)."""
    service.add('echo')
    _commit_and_process_as(service, 'w1')
    tm = _tm(service)
    assert transactions.in_transaction(tm, lambda: Dispatch(service).retire('w1'))
    assert transactions.in_transaction(
        tm, lambda: Dispatch(service).heartbeat('w1', 200.0)) is False
    assert service.workers() == []


def _commit_and_process_as(service, owner):
    transaction.commit()
    runner.drain(service, now=100.0, owner=owner)
