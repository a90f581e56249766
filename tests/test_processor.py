import logging
import threading
import time

import pytest
import transaction
import zope.component
from persistent.mapping import PersistentMapping
from ZODB.POSException import ConflictError
from zope.interface.verify import verifyObject

from zodbtasks import interfaces
from zodbtasks import processor
from zodbtasks import testing
from zodbtasks import transactions
from zodbtasks.interfaces import COMPLETED
from zodbtasks.interfaces import CRONJOB
from zodbtasks.interfaces import ERROR
from zodbtasks.interfaces import PROCESSING
from zodbtasks.interfaces import QUEUED
from zodbtasks.task import TaskError
from zodbtasks import runner
from zodbtasks import transactions
from zodbtasks.dispatch import Dispatch
from zodbtasks.jobmaps import JobMaps

DEADLINE = 10.0  # seconds; generous, only reached when something is broken


@pytest.fixture(autouse=True)
def no_back_off(monkeypatch):
    monkeypatch.setattr(transactions, 'BACK_OFF', 0.0)


def _commit_and_process(service, now=0):
    transaction.commit()
    return service.process(now)


def test_processor_provides_IProcessor(db):
    proc = processor.Processor(db, b'\0' * 8, 'zodbtasks.x')
    assert verifyObject(interfaces.IProcessor, proc)


def test_job_effects_and_status_commit_together(service, site, tasks):
    def write(input):
        site['log'] = testing.Folder()
        return 'written'
    testing.register_task('write', write)
    jobid = service.add('write')
    _commit_and_process(service)
    with testing.open_service(service._p_jar.db(),
                              service._p_oid) as (conn2, _, svc2):
        assert svc2.getStatus(jobid) == COMPLETED
        assert 'log' in conn2.get(site._p_oid)


def test_failing_task_changes_are_rolled_back(service, site, tasks, quiet):
    def write_then_fail(input):
        site['log'] = testing.Folder()
        raise TaskError('mail server down')
    testing.register_task('wtf', write_then_fail)
    jobid = service.add('wtf')
    _commit_and_process(service)
    assert service.getStatus(jobid) == ERROR
    assert service.getError(jobid) == 'mail server down'
    assert 'log' not in site
    assert 'TaskError: mail server down' in service.jobs[jobid].traceback


def test_unexpected_exception_is_recorded_with_type(service, tasks, quiet):
    jobid = service.add('crash', 7)
    _commit_and_process(service)
    assert service.getError(jobid) == 'ValueError: bad input 7'
    assert 'Traceback' in service.jobs[jobid].traceback


def test_job_failure_is_logged_with_job_id(service, tasks, caplog):
    jobid = service.add('crash', 7)
    _commit_and_process(service)
    records = [r for r in caplog.records if r.name == 'zodbtasks.runner']
    assert records[0].levelno == logging.ERROR
    assert str(jobid) in records[0].getMessage()
    assert records[0].exc_info is not None


def test_processing_goes_on_after_a_failure(service, tasks, quiet):
    bad, good = service.add('crash'), service.add('echo', 'ok')
    assert _commit_and_process(service) == 2
    assert (service.getStatus(bad), service.getStatus(good)) == \
        (ERROR, COMPLETED)


def test_traceback_is_size_capped(service, tasks, quiet):
    def huge(input):
        raise TaskError('x' * 200000)
    testing.register_task('huge', huge)
    jobid = service.add('huge')
    _commit_and_process(service)
    assert len(service.jobs[jobid].traceback) < 70000


def test_task_that_disappeared_errors_clearly(service, tasks, quiet):
    jobid = service.add('echo')
    zope.component.getGlobalSiteManager().unregisterUtility(
        provided=interfaces.ITask, name='echo')
    _commit_and_process(service)
    assert service.getStatus(jobid) == ERROR
    assert "no task named 'echo'" in service.getError(jobid)


def test_unpicklable_result_is_an_error(service, tasks, quiet):
    testing.register_task('lock', lambda input: threading.Lock())
    jobid = service.add('lock')
    _commit_and_process(service)
    assert service.getStatus(jobid) == ERROR
    assert 'cannot be stored' in service.getError(jobid)


def test_task_aborting_the_transaction_does_not_run_forever(service, tasks,
                                                            caplog):
    calls = []

    def aborting(input):
        calls.append(input)
        transaction.abort()
    testing.register_task('aborting', aborting)
    jobid = service.add('aborting')
    assert _commit_and_process(service) == 1
    assert service.process(0) == 0
    assert calls == [None] and service.getStatus(jobid) == COMPLETED
    assert 'not atomic' in caplog.text


def test_conflict_is_retried(service, tasks):
    calls = []

    def conflicting(input):
        calls.append(input)
        if len(calls) < 3:
            raise ConflictError()
        return 'third time'
    testing.register_task('conflicting', conflicting)
    jobid = service.add('conflicting')
    _commit_and_process(service)
    assert service.getResult(jobid) == 'third time' and len(calls) == 3
    assert service.jobs[jobid].attempts == 1


def test_endless_conflicts_end_in_error(service, tasks, quiet):
    def always(input):
        raise ConflictError()
    testing.register_task('always', always)
    jobid = service.add('always')
    _commit_and_process(service)
    assert service.getStatus(jobid) == ERROR
    assert 'conflicting attempts' in service.getError(jobid)


def test_conflicts_back_off_exponentially():
    slept = []
    attempts = list(transactions.with_back_off(
        range(4), base=0.01, sleep=slept.append))
    assert attempts == [0, 1, 2, 3] and len(slept) == 3
    assert 0.005 <= slept[0] <= 0.015 and 0.02 <= slept[2] <= 0.06


def test_a_back_off_with_a_cap_never_pauses_longer():
    slept = []
    list(transactions.with_back_off(range(12), base=0.002,
                                    sleep=slept.append, cap=0.05))
    assert len(slept) == 11 and slept[0] <= 0.003
    assert max(slept) <= 0.05 * 1.5 and max(slept) >= 0.05 * 0.5


def test_claims_retry_soon_after_conflicts(service, tasks, monkeypatch):
    """A claim that conflicted waits milliseconds, not seconds: its
    worker's finished jobs stay out of the counts meanwhile."""
    backs = []
    real = transactions.with_back_off

    def spy(attempts, base=None, sleep=None, cap=None):
        backs.append((base, cap))
        return real(attempts, base, sleep=lambda seconds: None, cap=cap)
    monkeypatch.setattr(transactions, 'with_back_off', spy)
    testing.register_task('noop', lambda input: None)
    service.add('noop')
    transaction.commit()
    service.process()
    assert runner.CLAIM_BACK_OFF in backs
    assert runner.CLAIM_BACK_OFF[1] <= 0.1


def test_conflicts_are_counted_per_thread_and_class():
    name = threading.current_thread().name
    before = transactions.conflicts_of(name)
    calls = []

    def conflicting():
        calls.append(1)
        if len(calls) < 3:
            raise ConflictError(oid=b'\0' * 8, serials=(b'\1' * 8,
                                                       b'\0' * 8),
                                object=PersistentMapping())
        return 'done'
    assert transactions.in_transaction(
        transaction.TransactionManager(), conflicting,
        back_off=(0.0, 0.0)) == 'done'
    after = transactions.conflicts_of(name)
    assert after - before == {
        'persistent.mapping.PersistentMapping': 2}
    assert processor.describe_conflicts(after - before) == (
        'conflicts: 2 (persistent.mapping.PersistentMapping 2)')
    assert processor.describe_conflicts({}) == 'no conflicts'


def test_local_utility_resolves_while_job_runs(service, site, tasks):
    site.getSiteManager().registerUtility('site1 value', provided=ISetting)

    def lookup(input):
        return zope.component.getUtility(ISetting)
    testing.register_task('lookup', lookup)
    zope.component.hooks.setHooks()
    try:
        jobid = service.add('lookup')
        _commit_and_process(service)
    finally:
        zope.component.hooks.resetHooks()
    assert service.getResult(jobid) == 'site1 value'
    assert zope.component.hooks.getSite() is None


class ISetting(zope.interface.Interface):
    pass


def test_processNext_runs_at_most_one(service, tasks):
    first, second = service.add('echo'), service.add('echo')
    transaction.commit()
    assert service.processNext(0) is True
    assert (service.getStatus(first), service.getStatus(second)) == \
        (COMPLETED, QUEUED)
    assert service.processNext(0) is True
    assert service.processNext(0) is False


def test_cron_job_runs_when_due_and_reschedules(service, tasks):
    jobid = service.addCronJob('counter', minute=(10, 13))
    transaction.commit()
    assert [service.process(t) for t in (0, 600, 660, 780)] == [0, 1, 0, 1]
    assert service.getResult(jobid) == 2
    assert service.getStatus(jobid) == CRONJOB


def test_updated_cron_job_fires_on_new_schedule(service, tasks):
    jobid = service.addCronJob('counter', minute=(10, 13))
    transaction.commit()
    service.process(0)
    service.jobs[jobid].update(minute=(11, 13))
    service.reschedule(jobid)
    transaction.commit()
    assert [service.process(t) for t in (0, 600, 660)] == [0, 0, 1]


def test_delayed_job_runs_once_after_delay(service, tasks):
    jobid = service.addCronJob('counter', delay=10)
    transaction.commit()
    service.process(0)
    service.process(9)
    assert service.getStatus(jobid) == interfaces.DELAYED
    service.process(10)
    assert service.getStatus(jobid) == COMPLETED
    assert service.process(100) == 0 and tasks == [None]


def test_failing_cron_run_keeps_schedule(service, tasks, quiet):
    jobid = service.addCronJob('fail', minute=(10,))
    transaction.commit()
    service.process(0)
    service.process(600)
    assert service.getStatus(jobid) == CRONJOB
    assert service.getError(jobid) == 'failed with None'
    assert service.jobs[jobid].scheduledFor == 4200


def test_successful_cron_run_clears_previous_error(service, tasks, quiet):
    outcomes = iter([TaskError('first'), 'second'])

    def flaky(input):
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome
    testing.register_task('flaky', flaky)
    jobid = service.addCronJob('flaky', minute=(10,))
    transaction.commit()
    for now in (0, 600, 4200):
        service.process(now)
    assert (service.getResult(jobid), service.getError(jobid)) == \
        ('second', None)


def test_cancel_running_cron_job_ends_it_after_the_run(service, tasks):
    def cancel_myself(svc, jobid, input):
        assert svc.cancel(jobid) is True
    testing.register_task('selfcancel', _FunctionTask(cancel_myself))
    jobid = service.addCronJob('selfcancel', minute=(10,))
    transaction.commit()
    service.process(0)
    service.process(600)
    assert service.getStatus(jobid) == interfaces.CANCELLED
    assert len(service._schedule) == 0


@zope.interface.implementer(interfaces.ITask)
class _FunctionTask:
    def __init__(self, func):
        self.func = func

    def __call__(self, service, jobid, input):
        return self.func(service, jobid, input)


def test_two_processors_never_run_the_same_job(service, tasks):
    """Two connections claim at once: the loser conflicts, retries and
    takes other jobs."""
    ids = [service.add('echo', i) for i in range(6)]
    transaction.commit()
    db = service._p_jar.db()
    with testing.open_service(db, service._p_oid) as (_, tm1, svc1), \
            testing.open_service(db, service._p_oid) as (_, tm2, svc2):
        claimed1 = Dispatch(svc1).claimJobs(0, 3, 'worker-1')
        claimed2 = Dispatch(svc2).claimJobs(0, 3, 'worker-2')
        assert claimed1 == claimed2  # same snapshot, same choice
        tm1.commit()
        with pytest.raises(ConflictError):
            tm2.commit()
        tm2.abort()
        claimed2 = runner.claim(svc2, tm2, 0, 3, 'worker-2')
    assert sorted(claimed1 + claimed2) == sorted(ids)


def test_job_claimed_by_another_worker_is_skipped(service, tasks):
    jobid = service.add('counter')
    transaction.commit()
    tm = runner.transaction_manager_of(service)
    assert runner.claim(service, tm, 0, 1, 'other-worker') == [jobid]
    runner.run_job(service, tm, jobid, 0, owner='this-worker')
    assert tasks == [] and service.getStatus(jobid) == PROCESSING


def test_release_puts_job_back_in_front(service, tasks):
    ids = {service.add('echo'), service.add('echo')}
    transaction.commit()
    tm = runner.transaction_manager_of(service)
    [first] = runner.claim(service, tm, 0, 1)
    runner.release(service, tm, [first])
    assert service.getStatus(first) == QUEUED
    assert service.jobs[first].attempts == 0
    [second] = ids - {first}
    assert runner.claim(service, tm, 0, 2) == [first, second]


def test_release_puts_job_back_in_front_within_one_millisecond(
        service, tasks):
    ids = [service.add('echo', now=100.0) for _ in range(3)]
    transaction.commit()
    tm = runner.transaction_manager_of(service)
    [first] = runner.claim(service, tm, 100.0, 1)
    assert first == ids[0] and service.jobs[first].releaseKey is None
    runner.release(service, tm, [first])
    assert runner.claim(service, tm, 100.0, 3) == ids
    runner.release(service, tm, ids)
    keys = {jobid: service.jobs[jobid].queueKey for jobid in ids}
    [one, two] = runner.claim(service, tm, 100.0, 2)  # the 2nd kept its key
    maps = JobMaps(service)
    assert maps.released_at(service.jobs[two]) == keys[two]
    runner.release(service, tm, [two, one])
    assert runner.claim(service, tm, 100.0, 3) == ids


def test_stop_event_releases_unrun_claimed_jobs(service, tasks):
    ids = [service.add('echo') for _ in range(3)]
    transaction.commit()
    stop = threading.Event()
    stop.set()
    tm = runner.transaction_manager_of(service)
    assert runner.drain(service, now=0, stop=stop, tm=tm) == 0
    assert [service.getStatus(i) for i in ids] == [QUEUED] * 3


def test_tick_runs_due_jobs(service, tasks, db):
    service.add('echo')
    transaction.commit()
    proc = processor.Processor(db, service._p_oid, 'zodbtasks.test')
    with testing.open_service(db, service._p_oid) as (_, tm, fresh):
        proc.tm, proc.service = tm, fresh
        assert proc.tick(0) == 1
        assert proc.tick(0) == 0


def test_thread_name_follows_service_path(service):
    assert processor.thread_name(service) == \
        'zodbtasks.site1.++etc++site.default.jobs'


def test_same_named_services_in_two_sites_get_two_threads(root, service):
    other = testing.add_service(testing.add_site(root, 'site2'), 'jobs')
    transaction.commit()
    service.startProcessing()
    other.startProcessing()
    names = {t.name for t in threading.enumerate()}
    assert {'zodbtasks.site1.++etc++site.default.jobs',
            'zodbtasks.site2.++etc++site.default.jobs'} <= names


def test_start_stop_and_join(service):
    service.startProcessing()
    service.startProcessing()  # no second thread
    assert service.isProcessing()
    threads = [t for t in threading.enumerate()
               if t.name == processor.thread_name(service)]
    assert len(threads) == 1
    service.stopProcessing()
    assert not service.isProcessing()
    threads[0].join(DEADLINE)
    assert not threads[0].is_alive()


def test_start_requires_committed_service():
    from zodbtasks.service import TaskService
    with pytest.raises(ValueError, match='committed'):
        TaskService().startProcessing()


def test_thread_is_woken_by_commit_not_by_polling(service, tasks):
    service.pollInterval = 3600.0
    transaction.commit()
    done = threading.Event()
    testing.register_task('signal', lambda input: done.set())
    service.startProcessing()
    service.add('signal')
    transaction.commit()
    assert done.wait(DEADLINE)


def test_thread_wakes_for_the_next_scheduled_run(service, tasks):
    """Nothing commits after the delayed job is scheduled and the poll
    interval is an hour: the thread waits only until the job is due."""
    service.pollInterval = 3600.0
    done = threading.Event()
    testing.register_task('signal', lambda input: done.set())
    service.addCronJob('signal', delay=0.2)
    transaction.commit()
    service.startProcessing()
    assert done.wait(DEADLINE)


def test_thread_keeps_running_after_failing_job(service, tasks, quiet):
    done = threading.Event()
    testing.register_task('signal', lambda input: done.set())
    service.startProcessing()
    service.add('crash')
    service.add('signal')
    transaction.commit()
    assert done.wait(DEADLINE)
    assert service.isProcessing()


def test_progress_is_visible_while_the_job_runs(service, tasks):
    from zodbtasks.task import reportProgress
    seen = []

    def slow(svc, jobid, input):
        reportProgress(svc, jobid, 0.5, 'half way')
        with testing.open_service(svc._p_jar.db(),
                                  svc._p_oid) as (_, _, svc2):
            seen.append(svc2.getProgress(jobid))
        reportProgress(svc, jobid, 1.0, 'done')
        return 'ok'
    testing.register_task('slow', _FunctionTask(slow))
    jobid = service.add('slow')
    _commit_and_process(service)
    assert seen == [(0.5, 'half way')]
    assert service.getProgress(jobid) == (1.0, 'done')
    assert service.getResult(jobid) == 'ok'


def test_progress_reports_never_make_the_job_rerun(service, tasks):
    from zodbtasks.task import reportProgress
    calls = []

    def reporting(svc, jobid, input):
        calls.append(jobid)
        for step in range(5):
            reportProgress(svc, jobid, step / 4)
    testing.register_task('reporting', _FunctionTask(reporting))
    ids = [service.add('reporting') for _ in range(3)]
    _commit_and_process(service)
    assert calls == ids
    assert [service.getStatus(i) for i in ids] == [COMPLETED] * 3


def test_progress_out_of_range(service):
    from zodbtasks.task import reportProgress
    with pytest.raises(ValueError, match='1.5'):
        reportProgress(service, 1, 1.5)


def test_rerun_clears_old_progress(service, tasks, quiet):
    from zodbtasks.task import reportProgress

    def half_then_fail(svc, jobid, input):
        reportProgress(svc, jobid, 0.5)
        raise TaskError('no')
    testing.register_task('hf', _FunctionTask(half_then_fail))
    jobid = service.add('hf')
    _commit_and_process(service)
    assert service.getProgress(jobid) == (0.5, None)
    service.retry(jobid)
    transaction.commit()
    tm = service._p_jar.transaction_manager
    runner.claim(service, tm, 0, 1)
    assert service.getProgress(jobid) is None


def test_slow_jobs_are_claimed_one_at_a_time(service, tasks, monkeypatch):
    monkeypatch.setattr(runner, 'QUICK_JOB', -1.0)  # every job is slow
    sizes = []
    real_claim = runner.claim

    def counting_claim(svc, tm, now, limit, owner=None, most=None):
        sizes.append(limit)
        return real_claim(svc, tm, now, limit, owner, most)
    monkeypatch.setattr(runner, 'claim', counting_claim)
    for _ in range(3):
        service.add('echo')
    _commit_and_process(service)
    assert sizes == [runner.CLAIM_BATCH, 1]


def test_a_long_job_shows_as_processing_in_the_lists(service, tasks):
    """A claim of several jobs waits for a fold to be indexed; while a
    long job runs, the heartbeat thread indexes it after SHOW_RUNNING."""
    from zodbtasks import folding
    started, release = threading.Event(), threading.Event()

    def long_job(input):
        started.set()
        release.wait(DEADLINE)
    testing.register_task('long', long_job)
    jobid = service.add('long')
    transaction.commit()
    service.startProcessing()
    try:
        assert started.wait(DEADLINE)
        deadline = time.monotonic() + DEADLINE
        while True:
            transaction.begin()
            if list(service.jobIdsByStatus(PROCESSING)) == [jobid]:
                break
            assert time.monotonic() < deadline, 'never listed as running'
            time.sleep(0.02)
        assert service.getStatus(jobid) == PROCESSING
        owner = service.jobs[jobid].owner
        assert folding.claims_of(service._workers[owner]) == []
    finally:
        release.set()
