import pickle
import threading

import pytest
from zope.interface.verify import verifyObject

from zodbtasks import interfaces
from zodbtasks.job import CronJob
from zodbtasks.job import Job
from zodbtasks.job import cap_text
from zodbtasks.job import check_picklable


def test_job_provides_IJob():
    assert verifyObject(interfaces.IJob, Job(1, 'echo', None, created=0.0))


def test_cron_job_provides_ICronJob():
    assert verifyObject(interfaces.ICronJob,
                        CronJob(1, 'echo', None, minute=(5,), created=0.0))


def test_cron_job_without_schedule_provides_ICronJob():
    # lovely.remotetask's README: CronJob(1, u'echo', {}) with no schedule
    assert verifyObject(interfaces.ICronJob, CronJob(1, u'echo', {}))


def test_cron_job_without_schedule_runs_every_minute():
    job = CronJob(1, 'echo', {})
    assert job.status == interfaces.CRONJOB
    assert job.describeSchedule() == 'every minute'
    assert job.timeOfNextCall(0) == 60 and job.timeOfNextCall(61) == 120


def test_delay_beyond_the_maximum_is_refused_and_job_kept():
    job = CronJob(1, 'e', None, delay=10)
    with pytest.raises(interfaces.ScheduleError, match='^delay: 1e\\+300 '):
        job.update(delay=1e300)
    assert job.delay == 10.0
    with pytest.raises(interfaces.ScheduleError, match='^delay: '):
        CronJob(2, 'e', None, delay=float('inf'))


@pytest.mark.parametrize('minute', [
    (0, 1000000000), range(10 ** 20, 0, -1), range(10 ** 20, 10 ** 21)])
def test_huge_field_values_are_refused_at_once(minute):
    with pytest.raises(interfaces.ScheduleError,
                       match='^minute: [0-9]+ is out of range 0-59$'):
        CronJob(1, 'e', None, minute=minute)


def test_delay_stored_before_the_maximum_still_works():
    job = CronJob(1, 'e', None, delay=10)
    job.delay = 1e300  # as an older version stored it
    assert job.timeOfNextCall(5) == 1e300
    assert job.describeSchedule().startswith('once, ')


def test_new_job_is_queued_without_outcome():
    job = Job(7, 'echo', {'a': 1}, created=5.0)
    assert (job.id, job.task, job.input, job.status, job.created) == \
        (7, 'echo', {'a': 1}, interfaces.QUEUED, 5.0)
    assert (job.output, job.error, job.traceback, job.attempts) == \
        (None, None, None, 0)


def test_cron_and_delayed_statuses():
    assert CronJob(1, 'e', None, hour=(2,)).status == interfaces.CRONJOB
    assert CronJob(1, 'e', None, delay=5).status == interfaces.DELAYED


def test_cron_job_normalises_fields():
    job = CronJob(1, 'e', None, minute=[13, 10, 10])
    assert job.minute == (10, 13) and job.hour == ()


def test_timeOfNextCall_follows_fields():
    assert CronJob(1, 'e', None, minute=(0, 10)).timeOfNextCall(600) == 3600


def test_timeOfNextCall_of_cron_string():
    job = CronJob(1, 'e', None, cron='*/5 * * * *')
    assert job.timeOfNextCall(0) == 300 and job.cron == '*/5 * * * *'


def test_timeOfNextCall_of_delay():
    assert CronJob(1, 'e', None, delay=10).timeOfNextCall(1) == 11


def test_update_replaces_schedule():
    job = CronJob(1, 'e', None, minute=(10,))
    job.update(hour=(2,))
    assert (job.minute, job.hour) == ((), (2,))
    assert job.timeOfNextCall(0) == 7200


def test_invalid_update_leaves_job_unchanged():
    job = CronJob(1, 'e', None, minute=(10,))
    with pytest.raises(interfaces.ScheduleError, match='hour'):
        job.update(hour=(24,))
    assert (job.minute, job.hour) == ((10,), ())


def test_describe_schedule_is_text():
    assert isinstance(CronJob(1, 'e', None, minute=(1,)).describeSchedule(),
                      str)


def test_record_failure_and_clear_outcome():
    job = Job(1, 'e', None)
    job.recordFailure('boom', 'Traceback...')
    assert (job.error, job.traceback) == ('boom', 'Traceback...')
    job.clearOutcome()
    assert (job.error, job.traceback, job.output) == (None, None, None)


def test_cap_text_keeps_head_and_tail():
    text = 'a' * 100 + 'b' * 100
    capped = cap_text(text, limit=40)
    assert capped.startswith('a' * 20) and capped.endswith('b' * 20)
    assert '160 characters left out' in capped


def test_cap_text_leaves_short_text_and_none():
    assert cap_text('short', limit=40) == 'short'
    assert cap_text(None) is None


def test_check_picklable_names_what_failed():
    with pytest.raises(interfaces.InputError, match='input of x'):
        check_picklable(threading.Lock(), 'input of x')


def test_check_picklable_accepts_plain_data():
    check_picklable({'a': [1, 2.0, 'x', None]}, 'input')


def test_state_leaves_out_none_defaults():
    from zodbtasks import jobstate
    job = Job(1, 'echo', None, created=0.0)
    job.owner = None
    job.error = 'boom'
    job.uniqueKey = None
    stored = job.__getstate__()
    assert isinstance(stored, tuple) and len(stored) == len(jobstate.HEAD) + 1
    assert stored[-1] == {jobstate.NAMES.index('error'): 'boom'}
    state = jobstate.decode(stored)
    assert state['error'] == 'boom' and 'uniqueKey' not in state
    assert state['status'] == 'queued' and state['owner'] is None


def test_stored_state_is_small_and_decodes_to_the_same_job():
    job = Job(7356970387404669, 'noop', None, created=1796135348.25)
    job.enqueued = job.created
    job.status, job.owner, job.attempts = 'completed', 'w:1:abc', 1
    job.started, job.completed = 1796135348.5, 1796135348.75
    # a finished job: 84 bytes (0.1 wrote 230 for it)
    assert len(pickle.dumps(job.__getstate__(), 3)) < 90
    job.tags, job.custom = ('a',), {'x': 1}
    stored = job.__getstate__()
    copy = Job.__new__(Job)
    copy.__setstate__(stored)
    for name in ('id', 'task', 'input', 'status', 'created', 'enqueued',
                 'owner', 'attempts', 'started', 'completed', 'tags',
                 'custom'):
        assert getattr(copy, name) == getattr(job, name), name


def test_states_of_0_1_decode_unchanged():
    old = {'id': 5, 'task': 'echo', 'input': 3, 'status': 'error',
           'created': 1.0, 'error': 'boom', 'attempts': 2}
    job = Job.__new__(Job)
    job.__setstate__(dict(old))
    assert (job.id, job.status, job.error, job.attempts, job.enqueued) == (
        5, 'error', 'boom', 2, None)


def test_stored_job_keeps_its_values(db):
    import transaction
    conn = db.open()
    conn.root()['job'] = job = Job(1, 'echo', None, created=0.0)
    job.error = 'kept'
    transaction.commit()
    conn2 = db.open(transaction_manager=transaction.TransactionManager())
    copy = conn2.root()['job']
    assert (copy.error, copy.input, copy.owner) == ('kept', None, None)
    conn2.close()
    conn.close()


def test_only_a_repeating_cron_job_can_be_cancelled_while_it_runs():
    from zodbtasks.job import CronJob, Job
    assert Job(1, 'echo', None).cancel_while_running() is False
    delayed = CronJob(2, 'echo', None, delay=10)
    assert delayed.cancel_while_running() is False
    assert not delayed.cancelRequested
    repeating = CronJob(3, 'echo', None, minute=(5,))
    assert repeating.cancel_while_running() is True
    assert repeating.cancelRequested
