"""Cancelling running jobs and time limits: the request never conflicts
with the job's transaction, the task sees it at its next checkpoint, and
nothing the job changed is committed."""
import threading

import pytest
import transaction
from persistent.mapping import PersistentMapping
from zope.security.management import endInteraction
from zope.security.management import newInteraction

from zodbtasks import runner
from zodbtasks import testing
from zodbtasks.dispatch import Dispatch
from zodbtasks.interfaces import CANCELLED
from zodbtasks.interfaces import ERROR
from zodbtasks.interfaces import JobCancelled
from zodbtasks.interfaces import QUEUED
from zodbtasks.interfaces import TimeLimitExceeded
from zodbtasks.retry import RetryPolicy
from zodbtasks.task import checkpoint
from zodbtasks.task import reportProgress

DEADLINE = 30.0


def _register(name, func):
    task = testing.ServiceTask(func)
    testing.register_task(name, task)
    return task


class _Principal:
    def __init__(self, id):
        self.id = id


class _Participation:
    interaction = None

    def __init__(self, id):
        self.principal = _Principal(id)


def test_the_exceptions_are_importable_from_task():
    from zodbtasks import task
    assert task.JobCancelled is JobCancelled
    assert task.TimeLimitExceeded is TimeLimitExceeded
    assert issubclass(TimeLimitExceeded, task.TaskError)


def _claim(service, jobid, now=100.0):
    assert Dispatch(service).claimJobs(now, 1, 'w1') == [jobid]
    transaction.commit()


@pytest.fixture
def touching(service, quiet):
    """'touch' marks its input, then reports progress (a checkpoint)."""
    def touch(svc, jobid, input):
        input['touched'] = True
        reportProgress(svc, jobid, 0.5)
        return 'done'
    _register('touch', touch)


def test_cancel_of_a_running_job_aborts_it_at_its_checkpoint(
        service, touching):
    data = PersistentMapping()
    jobid = service.add('touch', data, now=99.0)
    transaction.commit()
    _claim(service, jobid)
    newInteraction(_Participation('alice'))
    try:
        assert service.cancel(jobid) is True
    finally:
        endInteraction()
    transaction.commit()
    assert service.getStatus(jobid) == 'processing'
    runner.run_job(service, transaction.manager, jobid, now=101.0,
                   owner='w1')
    transaction.begin()
    assert service.getStatus(jobid) == CANCELLED
    assert service.getError(jobid) == 'cancelled while running by alice'
    assert 'touched' not in service.jobs[jobid].input   # nothing committed
    assert not service._cancel_requests
    service.process(now=102.0)
    assert service.checkIndex() == []


def test_a_request_does_not_conflict_with_the_run(db, service, touching):
    """The request is written in another connection while the job's
    transaction runs; both commit."""
    data = PersistentMapping()
    jobid = service.add('touch', data, now=99.0)
    transaction.commit()
    _claim(service, jobid)
    job = service.jobs[jobid]
    job.input['touched'] = True                     # the run, under way
    Dispatch(service).finishJob(jobid, 101.0, output='done')
    with testing.open_service(db, service._p_oid) as (_, tm, copy):
        assert copy.cancel(jobid)
        tm.commit()                                 # the request first
    transaction.commit()                            # the run commits too
    assert service.getStatus(jobid) == 'completed'  # it finished first
    Dispatch(service).foldJobs('w1', 102.0)          # the fold drops it
    transaction.commit()
    assert not service._cancel_requests


def test_a_job_cancelled_from_another_connection_while_it_runs(
        db, service, quiet):
    started, ended = threading.Event(), threading.Event()

    def patient(svc, jobid, input):
        input['touched'] = True
        started.set()
        stop = threading.Event()
        for _ in range(int(DEADLINE / 0.01)):
            checkpoint(svc, jobid)
            stop.wait(0.01)
        return 'never cancelled'
    _register('patient', patient)
    jobid = service.add('patient', PersistentMapping())
    transaction.commit()

    def work():
        try:
            with testing.open_service(db, service._p_oid) as (_, tm, own):
                tm.begin()
                own.process()
        finally:
            ended.set()
    thread = threading.Thread(target=work)
    thread.start()
    try:
        assert started.wait(DEADLINE)
        transaction.begin()
        assert service.cancel(jobid)
        transaction.commit()
        assert ended.wait(DEADLINE)
    finally:
        thread.join(DEADLINE)
    transaction.begin()
    assert service.getStatus(jobid) == CANCELLED
    assert service.getError(jobid) == 'cancelled while running by system'
    assert 'touched' not in service.jobs[jobid].input


def test_a_time_limit_stops_the_job_at_its_checkpoint(service, quiet):
    def slow(svc, jobid, input):
        job = svc.jobs[jobid]
        checkpoint(svc, jobid, now=job.started + 1.0)    # within
        checkpoint(svc, jobid, now=job.started + 10.0)   # past
    _register('slow', slow)
    jobid = service.add('slow', timeLimit=5, now=99.0)
    transaction.commit()
    service.process(now=100.0)
    assert service.getStatus(jobid) == ERROR
    assert service.getError(jobid) == 'time limit of 5 s exceeded'
    retried = service.add('slow', timeLimit=2.5, now=99.0,
                          retryPolicy=RetryPolicy(retryErrors=True))
    transaction.commit()
    service.process(now=100.0)
    assert service.getStatus(retried) == QUEUED       # by its policy


def test_a_task_time_limit_and_jobs_over_it(service, quiet):
    task = _register('quiet', lambda svc, jobid, input: None)
    task.timeLimit = 60.0
    jobid = service.add('quiet', now=99.0)
    own = service.add('quiet', timeLimit=600.0, now=99.0)
    transaction.commit()
    Dispatch(service).claimJobs(100.0, 2, 'w1')
    transaction.commit()
    assert service.overTimeLimit(now=150.0) == []
    assert [job.id for job in service.overTimeLimit(now=200.0)] == [jobid]
    assert [job.id for job in service.overTimeLimit(now=800.0)] == [
        jobid, own]


@pytest.mark.parametrize('value', [0, -1, float('nan'), 'long', True])
def test_bad_time_limits_are_refused(service, quiet, value):
    testing.register_task('quiet', lambda input: None)
    with pytest.raises(ValueError) as info:
        service.add('quiet', timeLimit=value)
    assert 'timeLimit: expected None or a number of seconds > 0' in \
        str(info.value)
    assert len(service) == 0
