"""A database written by zodbtasks 0.1 opens and keeps working.

``fixtures/legacy-0.1.fs`` was made by ``fixtures/make_legacy_db.py``
with release 0.1; ``legacy-0.1.json`` holds what that release reported
about it, ``legacy-classes.txt`` every global its pickles name.  The
checks use only the public API (ITaskService, IJob, ICronJob), so that
the storage layout behind it may change: what must not change is that
the stored classes import from their recorded paths and that the stored
jobs, queues, schedules, indexes and worker records keep their meaning.
Every test works on its own copy of the file.
"""
import collections
import importlib
import importlib.util
import json
import pathlib
import shutil

import pytest
import transaction
import ZODB
import ZODB.FileStorage
from zope.interface.verify import verifyObject

from zodbtasks.dispatch import Dispatch
from zodbtasks.interfaces import CANCELLED
from zodbtasks.interfaces import COMPLETED
from zodbtasks.interfaces import CRONJOB
from zodbtasks.interfaces import DELAYED
from zodbtasks.interfaces import ERROR
from zodbtasks.interfaces import FINISHED
from zodbtasks.interfaces import PROCESSING
from zodbtasks.interfaces import QUEUED
from zodbtasks.interfaces import STARTLATER
from zodbtasks.interfaces import BLOCKED
from zodbtasks.interfaces import STATUSES
from zodbtasks.interfaces import ICronJob
from zodbtasks.interfaces import IJob
from zodbtasks.interfaces import ITaskService
from zodbtasks.job import RetryPolicy
from zodbtasks.startup import ROOT_NAME

FIXTURES = pathlib.Path(__file__).parent / 'fixtures'
FS_FILE = FIXTURES / 'legacy-0.1.fs'
FACTS = json.loads((FIXTURES / 'legacy-0.1.json').read_text())
#: The statuses 0.1 had (0.2 adds 'blocked': a 0.1 database has none).
STATUSES_01 = tuple(status for status in STATUSES if status != BLOCKED)
CLASSES = (FIXTURES / 'legacy-classes.txt').read_text().split()
IDS = FACTS['ids']
#: The fixture's last clock value: 2026-01-01 03:04:00 UTC.
NOW = FACTS['now']
T0 = NOW - 3 * 3600 - 240
#: Long after every lease of the fixture's workers expired.
FAR = NOW + 30 * 86400
CRON_ROLES = ('cron_fields', 'cron_string', 'delayed')


def _load_maker():
    spec = importlib.util.spec_from_file_location(
        'make_legacy_db', FIXTURES / 'make_legacy_db.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MAKER = _load_maker()


class Legacy:
    """A copy of the fixture, opened with a connection of its own."""

    def __init__(self, path):
        self.path = path
        self.open()

    def open(self):
        storage = ZODB.FileStorage.FileStorage(str(self.path))
        self.db = ZODB.DB(storage)
        self.tm = transaction.TransactionManager()
        self.conn = self.db.open(transaction_manager=self.tm)
        self.site = self.conn.root()[ROOT_NAME][FACTS['site']]
        self.service = self.site.getSiteManager().getUtility(
            ITaskService, name=FACTS['service'])

    def close(self):
        self.tm.abort()
        self.conn.close()
        self.db.close()

    def reopen(self):
        self.close()
        self.open()

    def job(self, role):
        return self.service.jobs[IDS[role]]

    def status(self, role):
        return self.service.getStatus(IDS[role])

    def statuses(self):
        return {jobid: job.status
                for jobid, job in self.service.jobs.items()}


@pytest.fixture
def legacy(tmp_path):
    MAKER.register_tasks()
    shutil.copyfile(FS_FILE, tmp_path / 'Data.fs')
    opened = Legacy(tmp_path / 'Data.fs')
    yield opened
    opened.close()


def _nonzero(counts):
    return {key: value for key, value in counts.items() if value}


def _ids(jobs):
    return [job.id for job in jobs]


# -- what is stored ----------------------------------------------------------

@pytest.mark.parametrize('dotted', CLASSES)
def test_recorded_class_imports_from_its_path(dotted):
    module, _, name = dotted.rpartition('.')
    assert hasattr(importlib.import_module(module), name), dotted


def test_class_list_names_every_global_of_the_fixture(tmp_path):
    shutil.copyfile(FS_FILE, tmp_path / 'Data.fs')
    assert MAKER.pickle_globals(str(tmp_path / 'Data.fs')) == CLASSES
    assert CLASSES == sorted(CLASSES)


def test_fixture_is_small():
    assert FS_FILE.stat().st_size < 200 * 1024


def test_service_is_the_registered_utility(legacy):
    sm = legacy.site.getSiteManager()
    assert sm['default'][FACTS['service']] is legacy.service
    assert verifyObject(ITaskService, legacy.service)


def test_every_job_loads_with_its_recorded_status(legacy):
    jobs = legacy.service.jobs
    assert {str(jobid): job.status for jobid, job in jobs.items()} \
        == FACTS['status']
    for role, jobid in IDS.items():
        job = jobs[jobid]
        assert job.id == jobid
        assert verifyObject(ICronJob if role in CRON_ROLES else IJob, job)
        assert str(jobid) in repr(job)


def test_every_status_is_represented(legacy):
    counts = legacy.service.countByStatus()
    assert sorted(counts) == sorted(STATUSES)
    assert all(counts[status] for status in STATUSES_01)
    assert counts[BLOCKED] == 0


def test_counts_match_the_release(legacy):
    assert legacy.service.countByStatus() == dict(FACTS['countByStatus'],
                                                  blocked=0)
    assert legacy.service.countByTask() == FACTS['countByTask']
    for status in STATUSES_01:
        assert list(legacy.service.jobIdsByStatus(status)) \
            == FACTS['indexed'][status]


def test_query_jobs_filters_by_status_and_task(legacy):
    service = legacy.service
    for status in STATUSES_01:
        total, jobs = service.queryJobs(status=status, reverse=False)
        assert total == FACTS['countByStatus'][status]
        assert _ids(jobs) == FACTS['indexed'][status]
    assert _ids(service.queryJobs(task='fail')[1]) == [IDS['error']]
    total, jobs = service.queryJobs(status=QUEUED, task='echo')
    assert (total, _ids(jobs)) == (2, [IDS['queued_policy'], IDS['queued']])
    assert service.queryJobs(status=QUEUED, task='fail') == (0, [])


def test_query_jobs_sorts_and_pages(legacy):
    service = legacy.service
    total, jobs = service.queryJobs(size=100)
    assert total == len(FACTS['status'])
    assert _ids(jobs) == sorted(map(int, FACTS['status']), reverse=True)
    assert _ids(service.queryJobs(start=3, size=4)[1]) == _ids(jobs)[3:7]
    started = _ids(service.queryJobs(sortOn='started', size=5)[1])
    assert started == [IDS[role] for role in (
        'processing_unfolded', 'processing_lost', 'cron_fields', 'error',
        'completed')]
    completed = _ids(service.queryJobs(sortOn='completed', size=3)[1])
    assert completed == [IDS['cron_fields'], IDS['error'], IDS['completed']]
    by_status = [job.id for job in service.queryJobs(
        sortOn='status', reverse=False, size=100)[1]]
    assert by_status == [jobid for status in sorted(STATUSES_01)
                         for jobid in FACTS['indexed'][status]]
    by_task = service.queryJobs(sortOn='task', size=100)[1]
    assert by_task[0].id == IDS['error']
    assert {job.task for job in by_task[1:]} == {'echo'}


def test_results_errors_and_progress(legacy):
    service = legacy.service
    assert service.getResult(IDS['completed']) == {'answer': 42}
    assert service.getResult(IDS['cron_fields']) == 'nightly'
    assert service.getResult(IDS['processing_unfolded']) == {'unfolded': True}
    assert service.getResult(IDS['queued']) is None
    assert service.getError(IDS['error']) == FACTS['error']
    assert 'TaskError' in legacy.job('error').traceback
    assert service.getError(IDS['completed']) is None
    assert list(service.getProgress(IDS['processing_lost'])) \
        == FACTS['progress']
    assert service.getProgress(IDS['queued']) is None
    assert legacy.job('completed').completed == T0 + 20
    assert legacy.job('processing_lost').owner == 'lost-worker'


def test_cron_jobs_keep_their_schedules(legacy):
    fields, string = legacy.job('cron_fields'), legacy.job('cron_string')
    assert (fields.minute, fields.hour, fields.cron) == ((0, 30), (3,), None)
    assert (string.cron, string.timezone) == ('*/5 * * * *',
                                              'Europe/Berlin')
    assert legacy.job('delayed').delay == 3600.0
    for role in CRON_ROLES:
        assert legacy.job(role).scheduledFor == FACTS['scheduledFor'][role]
        assert legacy.job(role).runs == FACTS['runs'][role]
    assert fields.timeOfNextCall(T0) == T0 + 3 * 3600
    assert string.timeOfNextCall(T0) == T0 + 300


def test_retry_policies_are_kept(legacy):
    assert legacy.job('queued_policy').retryPolicy == RetryPolicy(
        maxAttempts=5, delay=2.0, idempotent=True, retryErrors=True)
    assert legacy.job('processing_lost').retryPolicy == RetryPolicy(
        maxAttempts=2, delay=5.0)
    assert legacy.job('queued').retryPolicy == RetryPolicy()


def test_workers_lists_the_records(legacy):
    service = legacy.service
    assert sorted(service.workers(now=NOW), key=lambda w: w['id']) \
        == FACTS['workers']
    assert not any(worker['alive'] for worker in service.workers(now=FAR))
    assert service.stuckJobs(now=NOW) == [legacy.job('processing_lost')]


# -- it keeps working ---------------------------------------------------------

def test_process_runs_the_queued_jobs(legacy):
    service = legacy.service
    assert service.process(now=NOW) == 2
    for role, result in (('queued', 'plain'),
                         ('queued_policy', 'with policy')):
        assert legacy.status(role) == COMPLETED
        assert service.getResult(IDS[role]) == result
        assert legacy.job(role).completed == NOW
    assert legacy.status('startlater') == STARTLATER
    assert legacy.job('cron_string').scheduledFor == NOW + 60
    assert service.countByStatus()[QUEUED] == 0
    assert service.countByStatus()[COMPLETED] == 3


def test_start_later_job_starts_and_runs(legacy):
    service = legacy.service
    with legacy.tm:
        assert service.startJob(IDS['startlater'])
        assert not service.startJob(IDS['queued'])
    assert legacy.status('startlater') == QUEUED
    assert service.process(now=NOW) == 3
    assert legacy.status('startlater') == COMPLETED
    assert service.getResult(IDS['startlater']) == 'start me'


def test_retry_runs_the_error_job_again(legacy):
    service = legacy.service
    with legacy.tm:
        assert service.retry(IDS['error'])
        assert not service.retry(IDS['completed'])
    assert legacy.status('error') == QUEUED
    assert service.getError(IDS['error']) is None
    assert service.process(now=NOW) == 3
    assert legacy.status('error') == ERROR
    assert service.getError(IDS['error']) == FACTS['error']
    assert legacy.job('error').completed == NOW
    assert service.countByStatus()[ERROR] == 1


def test_cancel_stops_waiting_jobs(legacy):
    service = legacy.service
    waiting = ('queued', 'startlater', 'delayed', 'cron_fields',
               'cron_string')
    with legacy.tm:
        for role in waiting:
            assert service.cancel(IDS[role]), role
        assert not service.cancel(IDS['completed'])
        # a running job gets a cancel request (seen at its checkpoints)
        assert service.cancel(IDS['processing_lost'])
        assert legacy.status('processing_lost') == 'processing'
    assert service.process(now=FAR) == 1  # only queued_policy
    for role in waiting:
        assert legacy.status(role) == CANCELLED
    assert legacy.job('cron_fields').runs == 1
    assert service.countByStatus()[CANCELLED] == 6


def test_sweep_retries_the_lost_workers_job(legacy):
    service = legacy.service
    with legacy.tm:
        assert service.sweep(now=FAR) == 1
    lost = legacy.job('processing_lost')
    assert lost.status == QUEUED
    assert lost.error.startswith('worker lost: lost-worker')
    assert '(attempt 1 of 2)' in lost.error
    assert service.workers(now=FAR) == []
    counts = service.countByStatus()
    assert (counts[PROCESSING], counts[COMPLETED]) == (0, 2)
    service.process(now=FAR)  # the back-off (2.5 s or more) is not over
    assert lost.status == QUEUED
    service.process(now=FAR + 10)
    assert lost.status == COMPLETED
    assert service.getResult(lost.id) == 'lost'
    assert service.getError(lost.id) is None
    assert lost.attempts == 2


def test_lost_job_without_attempts_left_becomes_error(legacy):
    service = legacy.service
    with legacy.tm:
        service.sweep(now=FAR)
    service.process(now=FAR)  # everything due but the lost job
    with legacy.tm:  # a second worker claims it (attempt 2 of 2) and dies
        assert Dispatch(service).claimJobs(FAR + 10, 1, 'dying') \
            == [IDS['processing_lost']]
    with legacy.tm:
        assert service.sweep(now=FAR + 1000) == 1
    assert legacy.status('processing_lost') == ERROR
    assert service.getError(IDS['processing_lost']).startswith(
        'worker lost: dying')
    assert '(attempt 2 of 2)' in service.getError(IDS['processing_lost'])
    assert service.countByStatus()[ERROR] == 2


def test_cron_jobs_run_when_due(legacy):
    service = legacy.service
    fields, string = legacy.job('cron_fields'), legacy.job('cron_string')
    delayed = legacy.job('delayed')
    service.process(now=NOW)
    assert (string.scheduledFor, string.runs) == (NOW + 60, 0)
    assert service.process(now=NOW + 60) == 1
    assert (string.status, string.runs) == (CRONJOB, 1)
    assert string.scheduledFor == NOW + 360
    assert service.getResult(string.id) == 'every five'
    half_past = FACTS['scheduledFor']['cron_fields']
    assert service.process(now=half_past - 1) == 1  # string's 03:10
    assert service.process(now=half_past) == 2  # fields, string's 03:30
    assert (fields.status, fields.runs) == (CRONJOB, 2)
    assert fields.scheduledFor == T0 + 86400 + 3 * 3600
    assert (string.runs, string.scheduledFor) == (3, half_past + 300)
    due = FACTS['scheduledFor']['delayed']
    assert service.process(now=due - 1) == 1  # string's 03:35
    assert delayed.status == DELAYED
    assert service.process(now=due) == 1
    assert (delayed.status, delayed.runs) == (COMPLETED, 1)
    assert service.getResult(delayed.id) == 'delayed'
    assert string.runs == 4
    counts = service.countByStatus()
    assert (counts[DELAYED], counts[CRONJOB], counts[COMPLETED]) \
        == (0, 2, 4)


def test_update_cron_job_changes_the_schedule(legacy):
    service = legacy.service
    with legacy.tm:
        service.updateCronJob(IDS['cron_fields'], 'echo', 'changed',
                              cron='0 6 * * *', timezone='Europe/Berlin')
        service.updateCronJob(IDS['cron_string'], 'fail', 'now failing',
                              minute=(15,))
        with pytest.raises(ValueError):
            service.updateCronJob(IDS['queued'], 'echo')
    fields, string = legacy.job('cron_fields'), legacy.job('cron_string')
    assert (fields.cron, fields.minute, fields.hour) == ('0 6 * * *', (), ())
    assert (string.cron, string.timezone, string.minute) == (None, None,
                                                             (15,))
    assert service.countByTask() == {'echo': 9, 'fail': 2}
    service.process(now=NOW)
    assert fields.scheduledFor == T0 + 5 * 3600  # 06:00 in Berlin
    assert string.scheduledFor == T0 + 3 * 3600 + 15 * 60
    service.process(now=T0 + 5 * 3600)
    assert (fields.runs, service.getResult(fields.id)) == (2, 'changed')
    assert (string.runs, string.status) == (1, CRONJOB)
    assert service.getError(string.id) == 'failed with now failing'


def test_delete_removes_jobs_that_do_not_run(legacy):
    service = legacy.service
    with legacy.tm:
        for role in ('completed', 'queued', 'cron_fields'):
            assert service.delete(IDS[role])
        assert not service.delete(IDS['processing_lost'])
    for role in ('completed', 'queued', 'cron_fields'):
        assert IDS[role] not in service.jobs
    counts = service.countByStatus()
    assert (counts[COMPLETED], counts[QUEUED], counts[CRONJOB]) == (0, 1, 1)
    assert service.countByTask()['echo'] == 7
    # the delayed job and queued_policy run; the deleted cron job does not
    assert service.process(now=FACTS['scheduledFor']['delayed']) == 2


def test_clean_removes_finished_jobs(legacy):
    service = legacy.service
    assert service.clean() == 3
    for role in ('completed', 'error', 'cancelled'):
        assert IDS[role] not in service.jobs
    counts = service.countByStatus()
    assert all(counts[status] == 0 for status in FINISHED)
    assert sum(counts.values()) == len(service.jobs) == 8
    assert _nonzero(service.countByTask()) == {'echo': 8}
    with legacy.tm:
        service.sweep(now=FAR)  # folds the job worker-b finished
    assert service.countByStatus()[COMPLETED] == 1
    assert service.clean() == 1
    assert IDS['processing_unfolded'] not in service.jobs
    assert _nonzero(service.countByStatus()) \
        == collections.Counter(legacy.statuses().values())


def test_add_creates_and_runs_new_jobs(legacy):
    service = legacy.service
    with legacy.tm:
        new = service.add('echo', 'new')
        cron = service.addCronJob('fail', 'x', minute=(15,))
    assert new > max(IDS.values()) and cron > new
    assert service.countByTask() == {'echo': 11, 'fail': 2}
    assert service.process(now=NOW) == 3
    assert service.getResult(new) == 'new'
    assert service.jobs[cron].scheduledFor == T0 + 3 * 3600 + 15 * 60
    service.process(now=T0 + 3 * 3600 + 15 * 60)
    assert service.getStatus(cron) == CRONJOB
    assert service.getError(cron) == 'failed with x'


def test_keeps_working_after_reopening(legacy):
    service = legacy.service
    with legacy.tm:
        service.startJob(IDS['startlater'])
        service.retry(IDS['error'])
        service.cancel(IDS['cron_string'])
        service.sweep(now=FAR)
        added = service.add('echo', 'after 0.1')
    service.process(now=FAR + 10)
    assert service.clean(status=(CANCELLED,)) == 2
    counts, tasks = service.countByStatus(), service.countByTask()
    statuses = legacy.statuses()
    assert statuses[added] == COMPLETED
    assert _nonzero(counts) == collections.Counter(statuses.values())
    legacy.reopen()
    service = legacy.service
    assert service.countByStatus() == counts
    assert service.countByTask() == tasks
    assert legacy.statuses() == statuses
    assert service.getResult(added) == 'after 0.1'
    # the nightly job ran at FAR + 10 (due since 0.1) and runs once more
    assert service.process(now=FAR + 86400) == 1
    assert legacy.job('cron_fields').runs == 3
    legacy.reopen()
    assert legacy.job('cron_fields').runs == 3
    assert _nonzero(legacy.service.countByStatus()) \
        == collections.Counter(legacy.statuses().values())


def test_the_indexes_of_0_1_check_clean(legacy):
    assert legacy.service.checkIndex() == []
    assert legacy.service.rebuildIndex() == []


def test_the_indexes_stay_clean_through_the_new_code(legacy):
    service = legacy.service
    with legacy.tm:
        service.startJob(IDS['startlater'])
        service.retry(IDS['error'])
        service.sweep(now=FAR)
        service.add('echo', 'after 0.1')
    service.process(now=FAR + 10)
    assert service.checkIndex() == []


def test_oldest_waiting_of_jobs_queued_by_0_1_counts_from_creation(legacy):
    # 0.1 kept the enqueue time only in the queue's order key; such jobs
    # count from their creation time.
    service = legacy.service
    queued = [legacy.job('queued'), legacy.job('queued_policy')]
    assert all(job.enqueued is None for job in queued)
    oldest = min(job.created for job in queued)
    waited = service.oldestWaiting(now=oldest + 1000.0)
    assert waited >= 1000.0


def test_jobs_of_0_1_get_the_activity_defaults(legacy):
    for role in IDS:
        job = legacy.job(role)
        assert (job.priority, job.tags, job.after, job.afterTag,
                job.afterTask, job.onDependencyFailure,
                job.serializationTag, job.uniqueKey, job.deadline) == (
            0, (), (), (), (), 'wait', None, None, None)
        assert legacy.service.getDependents(job.id) == []
    service = legacy.service
    assert not service.isPaused() and service.getTaskLimits() == {}
    assert service.countByStatus()['blocked'] == 0


def test_new_jobs_wait_for_jobs_of_0_1(legacy):
    """Dependencies see the jobs 0.1 stored: a job after a queued job of
    0.1, and one after the task of that job, wait until it ran."""
    service = legacy.service
    queued = IDS['queued']
    task = legacy.job('queued').task
    with legacy.tm:
        after_job = service.add('echo', 'after', after=queued, now=NOW)
        after_task = service.add('echo', 'after task', afterTask=task,
                                 onDependencyFailure='run', now=NOW)
        limited = service.add('echo', 'limited', serializationTag='s',
                              priority=-1, now=NOW)
    assert service.getStatus(after_job) == 'blocked'
    assert service.getStatus(after_task) == 'blocked'
    assert service.getWaitReason(after_job) == \
        'waits for job %s (queued)' % queued
    with legacy.tm:
        service.sweep(now=FAR)  # the job 0.1 left running is lost
    service.process(now=FAR)
    assert service.getStatus(queued) == COMPLETED
    assert {service.getStatus(jobid) for jobid in (
        after_job, limited)} == {COMPLETED}
    # jobs of 0.1 of that task still wait (one started later, one retried
    # after its worker was lost): they hold the task
    assert service.getStatus(after_task) == 'blocked'
    assert service.getWaitReason(after_task).endswith(
        "jobs of task %r" % task)
    assert service.checkIndex() == []
    legacy.reopen()
    assert legacy.service.checkIndex() == []
