"""Serialization tags, task limits and pause: jobs held back without an
attempt counted, in their ready order; proven in one thread with a task
that records what it sees, and with two connections."""
import pytest
import transaction

from zodbtasks import testing
from zodbtasks.interfaces import COMPLETED
from zodbtasks.interfaces import QUEUED


@pytest.fixture
def ran(service, quiet):
    order = []
    testing.register_task('note', order.append)
    testing.register_task('mail', order.append)
    return order


def _claim(service, now, limit=10, owner='w1'):
    """Claim like a processor that does not run the jobs yet."""
    from zodbtasks.dispatch import Dispatch
    claimed = Dispatch(service).claimJobs(now, limit, owner)
    transaction.commit()
    return claimed


def _finish(service, jobid, now, owner='w1'):
    from zodbtasks.dispatch import Dispatch
    dispatch = Dispatch(service)
    dispatch.finishJob(jobid, now, output=None)
    dispatch.foldJobs(owner, now)
    transaction.commit()


def test_one_job_per_serialization_tag_runs_at_a_time(service, ran):
    a = service.add('note', 'a', serializationTag='order-7', now=100.0)
    b = service.add('note', 'b', serializationTag='order-7', now=100.0)
    c = service.add('note', 'c', serializationTag='order-8', now=100.0)
    transaction.commit()
    # a claim ends after a job with a serialization tag (it would keep
    # the tag while the jobs before it in its batch run)
    assert _claim(service, 110.0) == [a]
    assert _claim(service, 110.5) == [c]
    assert service.getStatus(b) == QUEUED
    assert service.jobs[b].attempts == 0
    assert service.getWaitReason(b) == \
        "serialized behind job %s (tag 'order-7')" % a
    assert _claim(service, 111.0) == []
    _finish(service, a, 112.0)
    assert _claim(service, 113.0) == [b]


def test_serialized_jobs_run_in_priority_order(service, ran):
    first = service.add('note', 'first', serializationTag='s', now=100.0)
    transaction.commit()
    assert _claim(service, 100.0) == [first]
    for label, priority in (('low', 5), ('high', -5), ('mid', 0)):
        service.add('note', label, serializationTag='s', priority=priority,
                    now=101.0)
    transaction.commit()
    assert _claim(service, 110.0) == []
    _finish(service, first, 111.0)
    transaction.commit()
    service.process(now=120.0)
    assert ran == ['high', 'mid', 'low']


def test_process_runs_serialized_jobs_one_after_the_other(service, ran):
    for number in range(5):
        service.add('note', number, serializationTag='s', now=100.0)
    transaction.commit()
    assert service.process(now=200.0) == 5
    assert ran == list(range(5))
    assert service.checkIndex() == []


def test_max_running_holds_back_without_counting_an_attempt(service, ran):
    service.setTaskLimit('mail', maxRunning=2)
    ids = [service.add('mail', n, now=100.0) for n in range(4)]
    transaction.commit()
    assert _claim(service, 110.0) == ids[:1]     # one per claim
    assert _claim(service, 110.0) == ids[1:2]
    assert _claim(service, 110.0) == []
    assert service.getWaitReason(ids[2]) == \
        "task 'mail' runs its limit of 2 at once"
    assert [service.jobs[j].attempts for j in ids[2:]] == [0, 0]
    assert service.getTaskLimits(now=110.0)['mail'] == {
        'maxRunning': 2, 'perMinute': None, 'running': 2,
        'startedLastMinute': 0, 'held': 2}
    _finish(service, ids[0], 111.0)
    assert _claim(service, 112.0) == [ids[2]]
    assert _claim(service, 113.0) == []


def test_per_minute_spreads_starts(service, ran):
    service.setTaskLimit('mail', perMinute=2)
    ids = [service.add('mail', n, now=100.0) for n in range(5)]
    transaction.commit()
    assert service.process(now=100.0) == 2
    assert service.process(now=130.0) == 0
    assert 'started its limit of 2 jobs in the last minute' in \
        service.getWaitReason(ids[2], now=130.0)
    assert service.nextScheduledTime() == 160.0
    assert service.process(now=160.5) == 2
    assert service.process(now=221.0) == 1
    assert ran == list(range(5))


def test_limits_of_other_tasks_do_not_hold(service, ran):
    service.setTaskLimit('mail', maxRunning=0)
    service.add('mail', 'm', now=100.0)
    service.add('note', 'n', now=100.0)
    transaction.commit()
    assert service.process(now=110.0) == 1
    assert ran == ['n']
    service.setTaskLimit('mail')          # no limit any more
    transaction.commit()
    assert service.process(now=120.0) == 1


def test_pause_and_resume_a_task(service, ran):
    service.pause('mail')
    assert service.isPaused('mail') and not service.isPaused()
    held = service.add('mail', 'm', now=100.0)
    service.add('note', 'n', now=100.0)
    transaction.commit()
    assert service.process(now=110.0) == 1
    assert service.getWaitReason(held) == "task 'mail' is paused"
    service.resume('mail')
    transaction.commit()
    assert not service.isPaused('mail')
    assert service.process(now=120.0) == 1
    assert service.getStatus(held) == COMPLETED


def test_pause_the_whole_service(service, ran):
    service.pause()
    jobid = service.add('note', 'n', now=100.0)
    transaction.commit()
    assert service.isPaused()
    assert service.process(now=110.0) == 0
    assert service.getWaitReason(jobid) == 'the service is paused'
    service.resume()
    transaction.commit()
    assert service.process(now=120.0) == 1


def test_a_held_job_can_be_cancelled_and_keeps_its_place(service, ran):
    service.pause('mail')
    first = service.add('mail', 1, now=100.0)
    second = service.add('mail', 2, now=100.0)
    third = service.add('mail', 3, now=100.0)
    transaction.commit()
    service.process(now=110.0)
    assert service.cancel(second)
    service.add('mail', 4, now=120.0)
    service.resume('mail')
    transaction.commit()
    service.process(now=130.0)
    assert ran == [1, 3, 4]
    assert service.checkIndex() == []
    assert {service.getStatus(first), service.getStatus(third)} == {
        COMPLETED}


@pytest.mark.parametrize('keywords, message', [
    ({'maxRunning': -1}, 'maxRunning: expected None (no limit) or a whole'),
    ({'perMinute': 2.5}, 'perMinute: expected None'),
    ({'maxRunning': True}, 'maxRunning: expected None'),
])
def test_bad_limits_are_refused(service, ran, keywords, message):
    with pytest.raises(ValueError) as info:
        service.setTaskLimit('mail', **keywords)
    assert message in str(info.value)
    assert service.getTaskLimits() == {}


def test_limits_and_pause_name_known_tasks(service, ran):
    from zodbtasks.interfaces import UnknownTaskError
    with pytest.raises(UnknownTaskError):
        service.pause('nosuch')
    with pytest.raises(UnknownTaskError):
        service.setTaskLimit('nosuch', maxRunning=1)


def test_a_cron_job_takes_priority_tags_and_serialization(service, ran):
    jobid = service.addCronJob('note', 'tick', cron='* * * * *',
                               priority=2, tag=['cron', 'x'],
                               serializationTag='s', now=100.0)
    job = service.jobs[jobid]
    assert (job.priority, job.tags, job.serializationTag) == (
        2, ('cron', 'x'), 's')


def test_a_serialized_cron_run_waits_for_the_tag(service, ran):
    service.add('note', 'long', serializationTag='s', now=100.0)
    cron = service.addCronJob('note', 'tick', cron='* * * * *',
                              serializationTag='s', now=100.0)
    transaction.commit()
    claimed = _claim(service, 100.0)          # the job
    assert len(claimed) == 1
    assert _claim(service, 100.5) == []       # the cron job is seen
    assert service.jobs[cron].scheduledFor == 120.0
    assert _claim(service, 120.5) == []       # cron due; 's' is taken
    _finish(service, claimed[0], 121.0)
    assert _claim(service, 121.6) == [cron]


def test_limits_are_shared_by_connections(db, service, ran):
    """What one connection sets, a claim in another sees."""
    service.setTaskLimit('mail', maxRunning=1)
    service.pause('note')
    transaction.commit()
    with testing.open_service(db, service._p_oid) as (_, _, copy):
        assert copy.isPaused('note')
        assert copy.getTaskLimits()['mail']['maxRunning'] == 1


def test_activities_count_task_status_priority_and_worker(service, ran):
    service.add('note', 'a', now=100.0)
    service.add('note', 'b', priority=2, now=100.0)
    service.add('mail', 'c', priority=2, tag='t', now=100.0)
    blocked = service.add('mail', 'd', afterTag='t', now=100.0)
    transaction.commit()
    claimed = _claim(service, 110.0, limit=1)
    rows = service.countActivities()
    assert {(row['task'], row['status'], row['priority'], row['worker'],
             row['count']) for row in rows} == {
        ('note', 'processing', 0, 'w1', 1),
        ('note', 'queued', 2, None, 1),
        ('mail', 'queued', 2, None, 1),
        ('mail', 'blocked', 0, None, 1)}
    assert service.countByPriority() == {0: 1, 2: 2}
    assert claimed and service.getStatus(blocked) == 'blocked'
    total, jobs = service.queryJobs(tag='t')
    assert total == 1 and jobs[0].input == 'c'
    total, jobs = service.queryJobs(status='blocked')
    assert total == 1 and jobs[0].id == blocked
    assert service.queryJobs(tag='t', status='completed')[0] == 0
