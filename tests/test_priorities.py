"""Priorities with aging, start times (``at``) and deadlines
(``beginBy``), proven with ``process(now)``."""
import datetime

import pytest
import transaction

from zodbtasks import keys
from zodbtasks import testing
from zodbtasks.interfaces import COMPLETED
from zodbtasks.interfaces import DELAYED
from zodbtasks.interfaces import ERROR
from zodbtasks.interfaces import QUEUED
from zodbtasks.interfaces import ScheduleError
from zodbtasks.job import RetryPolicy
from zodbtasks.queue import BTreeQueue
from zodbtasks.task import TaskError

UTC = datetime.timezone.utc


@pytest.fixture
def order(service):
    """The task 'note' records the input of each job it runs."""
    ran = []
    testing.register_task('note', ran.append)
    return ran


def _add(service, label, now, **options):
    return service.add('note', label, now=now, **options)


def test_lower_priority_runs_earlier(service, order):
    for label, priority in (('low', 5), ('normal', 0), ('urgent', -3)):
        _add(service, label, 100.0, priority=priority)
    transaction.commit()
    assert service.process(now=200.0) == 3
    assert order == ['urgent', 'normal', 'low']


def test_first_in_first_out_within_a_priority(service, order):
    for number in range(30):
        _add(service, number, 100.0, priority=1)  # one millisecond
    for number in range(30, 40):
        _add(service, number, 100.5, priority=1)
    transaction.commit()
    service.process(now=200.0)
    assert order == list(range(40))


def test_a_newer_urgent_job_overtakes_by_the_aging_step(service, order):
    # default agingStep 300 s: a priority-0 job added 10 s after a
    # priority-1 job runs first ...
    _add(service, 'p1', 1000.0, priority=1)
    _add(service, 'p0', 1010.0)
    transaction.commit()
    service.process(now=1020.0)
    assert order == ['p0', 'p1']


def test_old_low_priority_work_is_not_starved(service, order):
    # ... but a priority-1 job that has waited 400 s runs before a
    # priority-0 job added just now.
    _add(service, 'old p1', 1000.0, priority=1)
    _add(service, 'new p0', 1400.0)
    transaction.commit()
    service.process(now=1401.0)
    assert order == ['old p1', 'new p0']


def test_agingstep_none_gives_strict_priorities(service, order):
    service.agingStep = None
    _add(service, 'old p1', 1000.0, priority=1)
    _add(service, 'new p0', 90000.0)
    _add(service, 'p-2', 95000.0, priority=-2)
    transaction.commit()
    service.process(now=100000.0)
    assert order == ['p-2', 'new p0', 'old p1']


def test_a_fractional_aging_step(service, order):
    service.agingStep = 0.5
    _add(service, 'p10', 1000.0, priority=10)   # place 1005
    _add(service, 'p0 later', 1004.0)            # place 1004
    transaction.commit()
    service.process(now=2000.0)
    assert order == ['p0 later', 'p10']


@pytest.mark.parametrize('step', [-1, float('nan'), float('inf'), 'x',
                                  True])
def test_a_bad_aging_step_is_refused(service, step):
    with pytest.raises(ValueError) as info:
        service.agingStep = step
    assert 'agingStep' in str(info.value)
    assert service.agingStep == keys.AGING_STEP


@pytest.mark.parametrize('priority', [1.5, '1', None, True])
def test_a_priority_that_is_not_a_whole_number_is_refused(service, order,
                                                         priority):
    with pytest.raises(ValueError) as info:
        _add(service, 'x', 100.0, priority=priority)
    assert str(info.value).startswith('priority: ')
    assert len(service.jobs) == 0


def test_a_retried_job_keeps_its_priority(service, tasks, quiet):
    attempts = []

    def flaky(label):
        attempts.append(label)
        if label == 'flaky' and attempts.count('flaky') == 1:
            raise TaskError('once')
        return label
    testing.register_task('flaky', flaky)
    policy = RetryPolicy(maxAttempts=2, delay=10.0, retryErrors=True)
    flaky_id = service.add('flaky', 'flaky', priority=-1,
                           retryPolicy=policy, now=100.0)
    transaction.commit()
    service.process(now=100.0)
    assert service.getStatus(flaky_id) == QUEUED   # scheduled for a retry
    plain = service.add('flaky', 'plain', now=200.0)
    transaction.commit()
    service.process(now=1000.0)   # both are due: priority decides
    assert attempts == ['flaky', 'flaky', 'plain']
    assert service.jobs[flaky_id].priority == -1
    assert service.getStatus(plain) == COMPLETED


# -- at --------------------------------------------------------------------

def test_a_job_does_not_start_before_at(service, order):
    jobid = _add(service, 'later', 100.0, at=500.0)
    assert service.getStatus(jobid) == DELAYED
    transaction.commit()
    assert service.process(now=499.0) == 0
    assert service.process(now=500.0) == 1
    assert order == ['later'] and service.getStatus(jobid) == COMPLETED


def test_at_takes_an_aware_datetime(service, order):
    at = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    jobid = _add(service, 'noon', at.timestamp() - 60, at=at)
    assert service.jobs[jobid].scheduledFor == at.timestamp()


def test_a_due_job_takes_its_place_among_the_ready_ones(service, order):
    # at 500 it joins the queue as if queued at 500, with its priority
    _add(service, 'at 500, p0', 100.0, at=500.0)
    _add(service, 'queued at 450, p0', 450.0)
    _add(service, 'queued at 510, p0', 510.0)
    _add(service, 'queued at 100, p1', 100.0, priority=1)   # place 400
    transaction.commit()
    service.process(now=600.0)
    assert order == ['queued at 100, p1', 'queued at 450, p0',
                     'at 500, p0', 'queued at 510, p0']


def test_an_at_in_the_past_queues_the_job(service, order):
    jobid = _add(service, 'now', 100.0, at=50.0)
    assert service.getStatus(jobid) == QUEUED


@pytest.mark.parametrize('at,message', [
    (datetime.datetime(2026, 12, 1, 12, 0), 'naive datetime'),
    (1e300, 'between 1970 and the end of year 9999'),
    (float('nan'), 'between 1970'),
    (-5.0, 'between 1970'),
    ('tomorrow', 'expected epoch seconds or an aware datetime'),
])
def test_a_bad_at_is_refused(service, order, at, message):
    with pytest.raises(ScheduleError) as info:
        _add(service, 'x', 100.0, at=at)
    assert str(info.value).startswith('at: ') and message in str(info.value)
    assert len(service.jobs) == 0


# -- beginBy -----------------------------------------------------------------

def test_a_job_not_started_by_its_deadline_never_runs(service, order):
    jobid = _add(service, 'late', 100.0, beginBy=60.0)
    assert service.jobs[jobid].deadline == 160.0
    transaction.commit()
    assert service.process(now=161.0) == 0
    assert order == []
    assert service.getStatus(jobid) == ERROR
    assert service.getError(jobid) == ('deadline passed: not started by '
                                       '1970-01-01 00:02:40 UTC')
    assert service.countByStatus()[ERROR] == 1


def test_a_job_started_in_time_runs(service, order):
    jobid = _add(service, 'quick', 100.0, beginBy=60.0)
    transaction.commit()
    service.process(now=160.0)
    assert order == ['quick'] and service.getStatus(jobid) == COMPLETED


def test_the_deadline_counts_from_at(service, order):
    jobid = _add(service, 'at', 100.0, at=1000.0, beginBy=30.0)
    assert service.jobs[jobid].deadline == 1030.0
    transaction.commit()
    service.process(now=1031.0)
    assert order == [] and service.getStatus(jobid) == ERROR


def test_begin_by_takes_an_aware_datetime(service, order):
    deadline = datetime.datetime(1970, 1, 1, 0, 10, tzinfo=UTC)
    jobid = _add(service, 'x', 100.0, beginBy=deadline)
    assert service.jobs[jobid].deadline == 600.0


@pytest.mark.parametrize('begin_by', [-1.0, float('nan'), 'soon',
                                      datetime.datetime(1970, 1, 1)])
def test_a_bad_begin_by_is_refused(service, order, begin_by):
    with pytest.raises(ScheduleError) as info:
        _add(service, 'x', 100.0, beginBy=begin_by)
    assert str(info.value).startswith('beginBy: ')
    assert len(service.jobs) == 0


def test_a_deadline_before_the_start_is_refused(service, order):
    early = datetime.datetime(1970, 1, 1, 0, 1, tzinfo=UTC)
    with pytest.raises(ScheduleError) as info:
        _add(service, 'x', 100.0, at=500.0, beginBy=early)
    assert 'comes before the job may start' in str(info.value)


# -- the queue and the keys ---------------------------------------------------------

def test_insert_keeps_the_order_of_one_key():
    queue = BTreeQueue()
    base = keys.ready_key(100.0)
    inserted = [queue.insert(n, base) for n in range(50)]
    assert inserted == sorted(inserted) and list(queue) == list(range(50))


def test_ready_keys_follow_time_plus_priority_times_step():
    assert keys.ready_key(1000.0, 1) > keys.ready_key(1010.0, 0)
    assert keys.ready_key(1000.0, 1) < keys.ready_key(1400.0, 0)
    assert keys.ready_key(1000.0, 1, None) > keys.ready_key(10 ** 6, 0, None)
    assert 0 < keys.ready_key(1.0, -10 ** 9) < keys.ready_key(1.0, 0)
    assert keys.ready_key(0.0, 10 ** 9, None) < 2 ** 63


def test_jobs_of_0_1_have_the_defaults():
    from zodbtasks.job import Job
    job = Job(1, 'echo', None)
    assert (job.priority, job.deadline) == (0, None)
    from zodbtasks import jobstate
    assert 'priority' not in jobstate.decode(job.__getstate__())
