"""The attempt history of jobs (zodbtasks.attempts): what each claim's end
appends, its bound, and what jobs stored without one show."""
import pickle
import random
import shutil

import pytest
import transaction

import test_previous_main_database as previous
from zodbtasks import attempts
from zodbtasks import cancels
from zodbtasks import jobstate
from zodbtasks import runner
from zodbtasks.dispatch import Dispatch
from zodbtasks.interfaces import COMPLETED
from zodbtasks.interfaces import ERROR
from zodbtasks.interfaces import QUEUED
from zodbtasks.job import CronJob
from zodbtasks.job import Job
from zodbtasks.job import RetryPolicy


def _tm(service):
    return runner.transaction_manager_of(service)


def _claim(service, owner='w1', now=100.0, limit=10):
    transaction.commit()
    return runner.claim(service, _tm(service), now, limit, owner)


def _run(service, jobid, now, owner='w1'):
    _claim(service, owner=owner, now=now)
    runner.run_job(service, _tm(service), jobid, now + 2.0, owner=owner)
    return service.jobs[jobid]


def test_a_completed_run_is_one_entry(service, tasks):
    jobid = service.add('echo', 'hi')
    job = _run(service, jobid, 100.0)
    assert job.history == (('w1', 100.0, 102.0, attempts.COMPLETED),)
    [entry] = attempts.entries(job)
    assert entry == attempts.Attempt(1, 'w1', 100.0, 102.0, 'completed',
                                     '', True)


def test_an_error_is_kept_as_its_first_line(service, tasks, quiet):
    jobid = service.add('fail', 'x\ny')
    job = _run(service, jobid, 100.0)
    assert job.status == ERROR
    [entry] = attempts.entries(job)
    assert (entry.outcome, entry.message) == ('error', 'failed with x')


def test_every_retry_is_listed(service, tasks, quiet, monkeypatch):
    monkeypatch.setattr(random, 'uniform', lambda a, b: 1.0)
    jobid = service.add('crash', 1, retryPolicy=RetryPolicy(
        maxAttempts=2, delay=1.0, retryErrors=True))
    _run(service, jobid, 100.0, owner='w1')
    job = _run(service, jobid, 200.0, owner='w2')
    assert [(a.number, a.worker, a.start, a.outcome)
            for a in attempts.entries(job)] == [
        (1, 'w1', 100.0, 'error'), (2, 'w2', 200.0, 'error')]


def test_a_lost_worker_is_an_entry(service, tasks):
    service.leaseTimeout = 30.0
    jobid = service.add('echo')
    _claim(service, owner='w1', now=100.0)
    service.sweep(now=200.0)
    job = service.jobs[jobid]
    assert job.status == QUEUED
    assert job.history == (('w1', 100.0, 200.0, attempts.LOST),)


def test_a_release_is_listed_without_a_number(service, tasks):
    jobid = service.add('echo')
    _claim(service, owner='w1', now=100.0)
    Dispatch(service).releaseJob(jobid)
    job = service.jobs[jobid]
    assert job.attempts == 0
    [entry] = attempts.entries(job)
    assert (entry.number, entry.outcome, entry.end) == (None, 'released',
                                                        None)


def test_the_running_attempt_follows_the_history(service, tasks):
    jobid = service.add('echo')
    _claim(service, owner='w1', now=100.0)
    job = service.jobs[jobid]
    assert attempts.entries(job, running=True) == [
        attempts.Attempt(1, 'w1', 100.0, None, 'running', '', True)]


def test_cron_runs_are_bounded_first_and_last_kept(service, tasks):
    jobid = service.addCronJob('echo', delay=None, minute=())
    job = service.jobs[jobid]
    for number in range(attempts.HEAD + attempts.TAIL + 5):
        job.owner, job.started = 'w%d' % number, float(number)
        attempts.record(job, number + 0.5, attempts.COMPLETED)
    assert len(job.history) == attempts.HEAD + attempts.TAIL
    assert job.historyOmitted == 5
    assert job.history[0][0] == 'w0'
    assert job.history[-1][0] == 'w%d' % (attempts.HEAD + attempts.TAIL + 4)
    numbers = [a.number for a in attempts.entries(job)]
    assert numbers[:2] == [1, 7] and numbers[-1] == 26


def test_a_cancelled_run_is_an_entry(service, tasks):
    job = Job(1, 'echo', None)
    job.owner, job.started = 'w1', 5.0
    attempts.record(job, 6.0, attempts.CANCELLED)
    assert attempts.entries(job)[0].outcome == 'cancelled'


def test_long_error_lines_are_cut():
    outcome = attempts.error_outcome('x' * 500 + '\nmore')
    assert outcome.startswith('error: x') and outcome.endswith('…')
    assert len(outcome) == len('error: ') + attempts.OUTCOME_LIMIT


def test_a_job_without_history_shows_what_is_known():
    job = Job(1, 'echo', None)
    assert attempts.entries(job) == []
    job.__setstate__({'id': 1, 'task': 'echo', 'status': ERROR,
                      'attempts': 3, 'owner': 'w9', 'started': 10.0,
                      'completed': 12.0, 'error': 'boom'})
    assert attempts.entries(job) == [
        attempts.Attempt(3, 'w9', 10.0, 12.0, ERROR, 'boom', False)]


def test_a_job_without_history_that_runs_shows_its_claim_count():
    job = Job(1, 'echo', None)
    job.attempts, job.owner, job.started = 3, 'w9', 10.0
    assert attempts.entries(job, running=True) == [
        attempts.Attempt(3, 'w9', 10.0, None, 'running', '', True)]


def test_the_history_is_stored_compactly_and_reads_back():
    job = CronJob(1, 'echo', None)
    job.owner, job.started = 'host:1:abcdef', 10.0
    attempts.record(job, 11.0, attempts.COMPLETED)
    job.started = 20.0
    attempts.record(job, 21.0, attempts.LOST)
    stored = job.__getstate__()
    assert jobstate.NAMES.index('history') in stored[-1]
    data = pickle.dumps(stored, 3)
    assert data.count(b'host:1:abcdef') == 1  # the id once
    copy = CronJob.__new__(CronJob)
    copy.__setstate__(pickle.loads(data))
    assert copy.history == job.history and copy.owner == job.owner
    assert copy.status == job.status


def test_completed_job_in_the_service_state_grows_little(service, tasks):
    jobid = service.add('echo')
    job = _run(service, jobid, 100.0)
    size = len(pickle.dumps(job.__getstate__(), 3))
    del job.history
    # two times (18 bytes), the worker id by reference, None for
    # completed, the tuples and the attribute's number
    assert size - len(pickle.dumps(job.__getstate__(), 3)) <= 36


# -- jobs stored by the previous main, without a history -------------------

@pytest.fixture
def prev(tmp_path):
    previous.MAKER.register_tasks()
    del previous.MAKER.CALLS[:]
    cancels._last_look.clear()
    shutil.copyfile(previous.FS_FILE, tmp_path / 'Data.fs')
    opened = previous.Previous(tmp_path / 'Data.fs')
    yield opened
    opened.close()


def test_old_jobs_load_without_a_history(prev):
    job = prev.job('error')
    assert job.history == () and job.historyOmitted == 0
    [entry] = attempts.entries(job)
    assert not entry.known and entry.outcome == ERROR
    assert entry.start == job.started and entry.end == job.completed
    assert attempts.entries(prev.job('startlater')) == []


def test_old_jobs_gain_a_history_when_they_run_again(prev):
    service = prev.service
    with prev.tm:
        service.sweep(now=previous.FAR)  # the lost worker's job
    service.process(now=previous.FAR + 10)
    prev.reopen()
    job = prev.job('processing_lost')
    assert job.status == COMPLETED
    assert [entry.outcome for entry in attempts.entries(job)] == [
        'lost', 'completed']
    assert job.history[0][2] == previous.FAR
