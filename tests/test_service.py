import threading

import pytest
import transaction
from zope.interface.verify import verifyObject

from zodbtasks import interfaces
from zodbtasks import service as service_module
from zodbtasks import testing
from zodbtasks.interfaces import CANCELLED
from zodbtasks.interfaces import COMPLETED
from zodbtasks.interfaces import CRONJOB
from zodbtasks.interfaces import DELAYED
from zodbtasks.interfaces import ERROR
from zodbtasks.interfaces import QUEUED
from zodbtasks.interfaces import STARTLATER
from zodbtasks import runner
from zodbtasks.dispatch import Dispatch
from zodbtasks.service import TaskService


def test_provides_its_interfaces():
    svc = TaskService()
    assert verifyObject(interfaces.ITaskService, svc)
    assert verifyObject(interfaces.IReadTaskService, svc)
    assert verifyObject(interfaces.IWriteTaskService, svc)
    assert verifyObject(interfaces.IJobDispatch, Dispatch(svc))


def test_add_queues_a_job(service, tasks):
    jobid = service.add('echo', {'a': 1})
    assert service.getStatus(jobid) == QUEUED
    assert service.jobs[jobid].input == {'a': 1}
    assert service.countByStatus()[QUEUED] == 1


def test_add_unknown_task_names_it_and_creates_nothing(service, tasks):
    with pytest.raises(interfaces.UnknownTaskError, match="'nosuch'"):
        service.add('nosuch')
    assert len(service.jobs) == 0 and len(service._queue) == 0


def test_add_unpicklable_input_says_why_and_creates_nothing(service, tasks):
    with pytest.raises(interfaces.InputError, match='cannot pickle'):
        service.add('echo', threading.Lock())
    assert len(service.jobs) == 0


def test_add_accepts_persistent_objects_in_input(service, tasks, site):
    assert service.getStatus(service.add('echo', [site])) == QUEUED


def test_add_cron_job_with_bad_spec_creates_nothing(service, tasks):
    with pytest.raises(interfaces.ScheduleError):
        service.addCronJob('echo', minute=(60,))
    assert len(service.jobs) == 0


def test_add_cron_job_that_never_matches_raises_ValueError(service, tasks):
    with pytest.raises(ValueError):
        service.addCronJob('echo', month=(2,), dayOfMonth=(30,))


def test_ids_grow_with_creation_time(service, tasks, monkeypatch):
    clock = iter([1000.0, 1000.5, 2000.0])
    monkeypatch.setattr(service_module.clock, 'now', lambda: next(clock))
    ids = [service.add('echo') for _ in range(3)]
    assert ids == sorted(ids)


def test_ids_made_in_one_millisecond_are_unique_and_ordered(
        service, tasks, monkeypatch):
    monkeypatch.setattr(service_module.clock, 'now', lambda: 1000.0)
    ids = [service.add('echo') for _ in range(500)]
    assert ids == sorted(set(ids))


def test_queue_order_is_creation_order(service, tasks):
    ids = [service.add('echo') for _ in range(50)]
    assert list(service._queue) == ids


def test_start_later_waits_for_startJob(service, tasks):
    jobid = service.add('echo', startLater=True)
    assert service.getStatus(jobid) == STARTLATER
    transaction.commit()
    assert service.process(0) == 0
    assert service.startJob(jobid) is True
    assert service.startJob(jobid) is False
    transaction.commit()
    assert service.process(0) == 1
    assert service.getStatus(jobid) == COMPLETED


@pytest.mark.parametrize('kwargs, status', [
    ({}, QUEUED),
    ({'startLater': True}, STARTLATER),
])
def test_cancel_waiting_job_never_runs(service, tasks, kwargs, status):
    jobid = service.add('counter', **kwargs)
    assert service.cancel(jobid) is True
    transaction.commit()
    service.process(0)
    assert service.getStatus(jobid) == CANCELLED and tasks == []
    assert len(service._queue) == 0


def test_cancel_unscheduled_cron_job(service, tasks):
    jobid = service.addCronJob('counter', minute=(10,))
    assert service.cancel(jobid) is True
    transaction.commit()
    service.process(600)
    assert service.getStatus(jobid) == CANCELLED and tasks == []


def test_cancel_scheduled_cron_job_removes_schedule_entry(service, tasks):
    jobid = service.addCronJob('counter', minute=(10,))
    transaction.commit()
    service.process(0)
    assert len(service._schedule) == 1
    assert service.cancel(jobid) is True
    transaction.commit()
    service.process(600)
    assert service.getStatus(jobid) == CANCELLED and tasks == []
    assert len(service._schedule) == 0


def test_cancel_delayed_job(service, tasks):
    jobid = service.addCronJob('counter', delay=5)
    transaction.commit()
    service.process(0)
    service.cancel(jobid)
    transaction.commit()
    service.process(10)
    assert service.getStatus(jobid) == CANCELLED and tasks == []


def test_cancel_finished_job_changes_nothing(service, tasks):
    jobid = service.add('echo')
    transaction.commit()
    service.process(0)
    assert service.cancel(jobid) is False
    assert service.getStatus(jobid) == COMPLETED


def test_getters(service, tasks):
    ok, bad = service.add('echo', 'x'), service.add('fail', 'y')
    transaction.commit()
    service.process(0)
    assert (service.getResult(ok), service.getError(ok)) == ('x', None)
    assert service.getError(bad) == 'failed with y'
    with pytest.raises(KeyError):
        service.getStatus(12345)


def test_getAvailableTasks_sees_global_and_local_tasks(service, site, tasks):
    testing.register_task('local', len, site.getSiteManager())
    available = service.getAvailableTasks()
    assert {'echo', 'fail', 'crash', 'counter', 'local'} == set(available)


def test_local_task_is_not_visible_from_other_site(root, service, tasks):
    other = testing.add_site(root, 'site2')
    testing.register_task('local', len, other.getSiteManager())
    with pytest.raises(interfaces.UnknownTaskError):
        service.add('local')


def test_unlocated_service_uses_global_tasks(tasks):
    svc = TaskService()
    assert 'echo' in svc.getAvailableTasks()
    assert svc.getSite() is None


def test_path_and_traversal(service, tasks):
    assert service.path == ('site1', '++etc++site', 'default', 'jobs')
    jobid = service.add('echo')
    assert service[str(jobid)] is service.jobs[jobid]
    assert str(jobid) in service and len(service) == 1


def test_reschedule_requires_cron_job(service, tasks):
    with pytest.raises(TypeError):
        service.reschedule(service.add('echo'))


def test_clean_removes_finished_jobs(service, tasks, quiet):
    done, failed = service.add('echo'), service.add('fail')
    waiting = service.add('echo', startLater=True)
    transaction.commit()
    service.process(0)
    assert service.clean() == 2
    assert list(service.jobs) == [waiting]
    assert service.countByStatus()[COMPLETED] == 0
    assert done not in service.jobs and failed not in service.jobs


def test_clean_by_status(service, tasks, quiet):
    done, failed = service.add('echo'), service.add('fail')
    transaction.commit()
    service.process(0)
    assert service.clean(status=(ERROR,)) == 1
    assert list(service.jobs) == [done] and failed not in service.jobs


def test_clean_refuses_unfinished_statuses(service):
    with pytest.raises(ValueError, match='queued'):
        service.clean(status=(QUEUED,))


def test_clean_runs_in_bounded_transactions(service, tasks, monkeypatch):
    monkeypatch.setattr(service_module, 'BATCH_SIZE', 7)
    for _ in range(20):
        service.cancel(service.add('echo'))
    transaction.commit()
    before = service._p_jar.db().lastTransaction()
    assert service.clean() == 20
    assert len(service.jobs) == 0
    history = service._p_jar.db().storage.iterator(before)
    assert len([t for t in history if t.tid != before]) == 3


def test_cancelAll_cancels_every_waiting_job(service, tasks):
    service.add('echo')
    service.add('echo', startLater=True)
    service.addCronJob('echo', minute=(1,))
    service.addCronJob('echo', delay=3)
    transaction.commit()
    service.process(0)   # schedules the cron and delayed jobs
    done = service.add('echo')
    transaction.commit()
    service.process(0)
    service.add('echo')
    transaction.commit()
    assert service.cancelAll() == 4
    counts = service.countByStatus()
    assert counts[CANCELLED] == 4 and counts[COMPLETED] == 2
    assert service.getStatus(done) == COMPLETED
    assert len(service._queue) == 0 and len(service._schedule) == 0


def test_cancelAll_runs_in_bounded_transactions(service, tasks, monkeypatch):
    monkeypatch.setattr(service_module, 'BATCH_SIZE', 4)
    for _ in range(10):
        service.add('echo')
    transaction.commit()
    before = service._p_jar.db().lastTransaction()
    assert service.cancelAll() == 10
    history = service._p_jar.db().storage.iterator(before)
    assert len([t for t in history if t.tid != before]) == 3


def test_batch_operations_refuse_pending_changes(service, tasks):
    service.add('echo')
    for operation in (service.process, service.processNext, service.clean,
                      service.cancelAll):
        with pytest.raises(interfaces.PendingChangesError):
            operation()


def test_unstored_service_processes_without_transactions(tasks):
    svc = TaskService()
    jobid = svc.add('echo', 'x')
    assert svc.process(0) == 1
    assert svc.getResult(jobid) == 'x'


def test_count_by_status_follows_transitions(service, tasks, quiet):
    service.add('echo')
    service.add('fail')
    service.add('echo', startLater=True)
    service.addCronJob('echo', minute=(5,))
    service.addCronJob('echo', delay=5)
    transaction.commit()
    service.process(0)
    counts = service.countByStatus()
    assert (counts[COMPLETED], counts[ERROR], counts[STARTLATER],
            counts[CRONJOB], counts[DELAYED], counts[QUEUED]) == \
        (1, 1, 1, 1, 1, 0)
    assert list(service.jobIdsByStatus(ERROR)) == \
        [j for j in service.jobs if service.getStatus(j) == ERROR]


def test_next_scheduled_time(service, tasks):
    assert service.nextScheduledTime() is None
    service.addCronJob('echo', minute=(10,))
    transaction.commit()
    service.process(0)
    assert service.nextScheduledTime() == 600


def test_retry_failed_job(service, tasks, quiet):
    jobid = service.add('fail', 'x')
    transaction.commit()
    service.process(0)
    assert service.retry(jobid) is True
    assert service.getStatus(jobid) == QUEUED
    assert service.getError(jobid) is None
    transaction.commit()
    service.process(0)
    assert service.getStatus(jobid) == ERROR


def test_retry_cancelled_job_runs_it(service, tasks):
    jobid = service.add('counter')
    service.cancel(jobid)
    assert service.retry(jobid) is True
    transaction.commit()
    service.process(0)
    assert service.getStatus(jobid) == COMPLETED and tasks == [None]


def test_retry_refuses_other_statuses(service, tasks):
    assert service.retry(service.add('echo')) is False


def test_delete_waiting_job(service, tasks):
    jobid = service.add('counter')
    assert service.delete(jobid) is True
    assert jobid not in service.jobs and len(service._queue) == 0
    assert sum(service.countByStatus().values()) == 0
    transaction.commit()
    assert service.process(0) == 0


def test_delete_scheduled_cron_job(service, tasks):
    jobid = service.addCronJob('counter', minute=(1,))
    transaction.commit()
    service.process(0)
    assert service.delete(jobid) is True
    assert len(service._schedule) == 0


def test_delete_refuses_running_job(service, tasks):
    jobid = service.add('echo')
    transaction.commit()
    tm = service._p_jar.transaction_manager
    runner.claim(service, tm, 0, 1)
    assert service.delete(jobid) is False


def test_oldest_waiting(service, tasks, monkeypatch):
    assert service.oldestWaiting(now=100) is None
    monkeypatch.setattr(service_module.clock, 'now', lambda: 40.0)
    service.add('echo')
    assert service.oldestWaiting(now=100) == pytest.approx(60.0)


def test_oldest_waiting_counts_overdue_scheduled_jobs(service, tasks):
    service.addCronJob('echo', minute=(1,))
    transaction.commit()
    service.process(0)   # scheduled for 60
    assert service.oldestWaiting(now=30) is None
    assert service.oldestWaiting(now=90) == 30


def test_updateCronJob_changes_task_input_and_schedule(service, tasks):
    jobid = service.addCronJob('echo', 'old', minute=(10,))
    transaction.commit()
    service.process(0)
    service.updateCronJob(jobid, 'counter', 'new', hour=(2,))
    transaction.commit()
    assert service.countByTask() == {'echo': 0, 'counter': 1}
    assert service.process(600) == 0
    assert service.process(7200) == 1 and tasks == ['new']


def test_updateCronJob_to_delay_makes_it_delayed(service, tasks):
    jobid = service.addCronJob('echo', minute=(10,))
    service.updateCronJob(jobid, 'echo', delay=5)
    assert service.getStatus(jobid) == DELAYED


def test_invalid_updateCronJob_changes_nothing(service, tasks):
    jobid = service.addCronJob('echo', 'old', minute=(10,))
    for kwargs in ({'task': 'nosuch'}, {'task': 'echo', 'minute': (99,)},
                   {'task': 'echo', 'input': threading.Lock(),
                    'minute': (1,)}):
        with pytest.raises((interfaces.UnknownTaskError, ValueError,
                            TypeError)):
            service.updateCronJob(jobid, **kwargs)
    job = service.jobs[jobid]
    assert (job.task, job.input, job.minute) == ('echo', 'old', (10,))


def test_updateCronJob_refuses_plain_and_finished_jobs(service, tasks):
    with pytest.raises(ValueError, match='cron'):
        service.updateCronJob(service.add('echo'), 'echo', minute=(1,))
