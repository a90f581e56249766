"""A database written by the previous main (0.2 development at commit
596a925, before grouped execution) opens and keeps working.

``fixtures/main-0.2.dev-596a925.fs`` was made by
``fixtures/make_main_db.py`` with the code of that commit; the ``.json``
holds what that code reported about it (the jobs' statuses and options,
counts, groups, wait reasons), ``-classes.txt`` every global its pickles
name.  Since then jobs are stored as compact tuples (``jobstate``), tree
leaves are larger and groups keep Length counters: the jobs, trees and
groups of that commit (dict states, small leaves, no counters) must read
back with the same meaning, run, and once rewritten by the current code
reopen in their new form.  Every test works on its own copy of the file.
"""
import collections
import importlib
import importlib.util
import io
import json
import pathlib
import shutil

import pytest
import transaction
import zodbpickle.pickle
import ZODB
import ZODB.FileStorage
import zope.component
import zope.interface
from zope.authentication.interfaces import IAuthentication
from zope.authentication.interfaces import PrincipalLookupError
from zope.interface.verify import verifyObject

from zodbtasks import activation
from zodbtasks import cancels
from zodbtasks import runner
from zodbtasks import tallies
from zodbtasks import testing
from zodbtasks.interfaces import BLOCKED
from zodbtasks.interfaces import CANCELLED
from zodbtasks.interfaces import COMPLETED
from zodbtasks.interfaces import CRONJOB
from zodbtasks.interfaces import ERROR
from zodbtasks.interfaces import PROCESSING
from zodbtasks.interfaces import QUEUED
from zodbtasks.interfaces import STARTLATER
from zodbtasks.interfaces import STATUSES
from zodbtasks.interfaces import ICronJob
from zodbtasks.interfaces import IJob
from zodbtasks.interfaces import ITaskService
from zodbtasks.startup import ROOT_NAME
from zodbtasks.task import SimpleTask

FIXTURES = pathlib.Path(__file__).parent / 'fixtures'
NAME = 'main-0.2.dev-596a925'
FS_FILE = FIXTURES / (NAME + '.fs')
FACTS = json.loads((FIXTURES / (NAME + '.json')).read_text())
CLASSES = (FIXTURES / (NAME + '-classes.txt')).read_text().split()
IDS = FACTS['ids']
GROUPS = FACTS['groups']
#: The fixture's last clock value: 2026-02-01 03:05:00 UTC.
NOW = FACTS['now']
#: Long after every lease of the fixture's workers expired.
FAR = NOW + 30 * 86400
CRON_ROLES = ('cron_fields', 'cron_string')
#: The options a run does not change.
KEPT = ('task', 'input', 'priority', 'tags', 'after', 'afterTag',
        'afterTask', 'onDependencyFailure', 'serializationTag', 'uniqueKey',
        'runAs', 'timeLimit', 'deadline', 'group', 'groupIndex',
        'callbackOf', 'created')
#: The jobs that are due at NOW, and what waits for them.
DUE = ('high', 'released', 'group_running_m3', 'group_running_m4', 'low',
       'unique_waiting', 'limited_job', 'activate_waiting', 'run_as',
       'time_limit', 'chain_waiting')
RELEASED_BY_DUE = ('blocked_after', 'blocked_tag', 'blocked_task')
#: Jobs that still wait after process(now=NOW): the callback watches the
#: member that worker-b finished and did not fold.
HELD = {'paused_job': QUEUED, 'serial_parked': QUEUED,
        'group_running_callback': BLOCKED,
        'startlater': STARTLATER, 'chain_added': STARTLATER,
        'delayed_at': 'delayed', 'cron_fields': CRONJOB,
        'cron_string': CRONJOB, 'processing_lost': PROCESSING,
        'processing_cancel': PROCESSING}


def _load_maker():
    spec = importlib.util.spec_from_file_location(
        'make_main_db', FIXTURES / 'make_main_db.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MAKER = _load_maker()


class Previous:
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
        self.document = self.site[FACTS['document']]

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

    def record_serial(self, job):
        """The transaction id of ``job``'s last record."""
        return self.db.storage.load(job._p_oid)[1]

    def stored_state(self, job):
        """The state of ``job`` as its record holds it."""
        data, _ = self.db.storage.load(job._p_oid)
        unpickler = _StateUnpickler(io.BytesIO(data))
        unpickler.load()  # the class
        return unpickler.load()


class _StateUnpickler(zodbpickle.pickle.Unpickler):

    def persistent_load(self, reference):
        return reference


@pytest.fixture
def prev(tmp_path):
    MAKER.register_tasks()
    del MAKER.CALLS[:]
    cancels._last_look.clear()  # it remembers jobs by database and id
    shutil.copyfile(FS_FILE, tmp_path / 'Data.fs')
    opened = Previous(tmp_path / 'Data.fs')
    yield opened
    opened.close()


class _Principal:
    def __init__(self, id):
        self.id = self.title = id
        self.description = ''


@zope.interface.implementer(IAuthentication)
class _Authentication:
    """Knows the principal the fixture's runAs job runs as."""

    def getPrincipal(self, id):
        if id != MAKER.PRINCIPAL:
            raise PrincipalLookupError(id)
        return _Principal(id)

    def authenticate(self, request):
        return None

    def unauthenticatedPrincipal(self):
        return None

    def unauthorized(self, id, request):
        pass

    def getPrincipals(self, name):
        return []


@pytest.fixture
def principal():
    zope.component.provideUtility(_Authentication(), IAuthentication)


def _calls(task):
    return [input for name, input in MAKER.CALLS if name == task]


def _nonzero(counts):
    return {key: value for key, value in counts.items() if value}


def _fold_worker_b(prev):
    """worker-b comes back and folds the member it finished."""
    runner.fold(prev.service, prev.tm, MAKER.UNFOLDING_WORKER, FAR)


def _consistent(prev):
    """The indexes agree with the jobs (once worker-b folded: see
    test_the_indexes_check_clean)."""
    _fold_worker_b(prev)
    service = prev.service
    assert _nonzero(service.countByStatus()) \
        == collections.Counter(prev.statuses().values())
    assert service.checkIndex() == []


# -- what is stored ----------------------------------------------------------

@pytest.mark.parametrize('dotted', CLASSES)
def test_recorded_class_imports_from_its_path(dotted):
    module, _, name = dotted.rpartition('.')
    assert hasattr(importlib.import_module(module), name), dotted


def test_class_list_names_every_global_of_the_fixture(tmp_path):
    shutil.copyfile(FS_FILE, tmp_path / 'Data.fs')
    assert MAKER.pickle_globals(str(tmp_path / 'Data.fs')) == CLASSES
    assert CLASSES == sorted(CLASSES)
    for name in ('zodbtasks.groups.Group', 'zodbtasks.holds.Controls',
                 'zodbtasks.activation.MethodCall',
                 'zodbtasks.demo.content.Document'):
        assert name in CLASSES


def test_fixture_is_small_and_from_the_previous_main(prev):
    assert FS_FILE.stat().st_size < 100 * 1024
    assert FACTS['commit'] == '596a925'
    # the jobs are stored as that commit stored them: dicts of names
    for role in IDS:
        state = prev.stored_state(prev.job(role))
        assert type(state) is dict and state['id'] == IDS[role], role


def test_service_is_the_registered_utility(prev):
    sm = prev.site.getSiteManager()
    assert sm['default'][FACTS['service']] is prev.service
    assert verifyObject(ITaskService, prev.service)


def test_every_job_loads_with_its_status_and_options(prev):
    jobs = prev.service.jobs
    assert {str(jobid): job.status for jobid, job in jobs.items()} \
        == FACTS['status']
    for role, jobid in IDS.items():
        job = jobs[jobid]
        assert job.id == jobid
        assert verifyObject(ICronJob if role in CRON_ROLES else IJob, job)
        assert MAKER.options_of(job) == FACTS['options'][role], role
    assert prev.job('processing_lost').retryPolicy == MAKER.LOST_POLICY
    assert prev.job('delayed_at').deadline == MAKER.T0 + 6 * 3600


def test_counts_match_the_previous_main(prev):
    service = prev.service
    assert service.countByStatus() == FACTS['countByStatus']
    assert service.countByTask() == FACTS['countByTask']
    assert service.countByPriority() == {
        int(priority): count
        for priority, count in FACTS['countByPriority'].items()}
    for status in STATUSES:
        assert list(service.jobIdsByStatus(status)) \
            == FACTS['indexed'][status]


def test_query_jobs_by_status_task_and_tag(prev):
    service = prev.service
    for status in STATUSES:
        total, jobs = service.queryJobs(status=status, size=100)
        assert total == len(FACTS['indexed'][status])
        assert [job.id for job in jobs] \
            == sorted(FACTS['indexed'][status], reverse=True)
    for task, count in FACTS['countByTask'].items():
        total, jobs = service.queryJobs(task=task, size=100)
        assert total == count and {job.task for job in jobs} == {task}
    for tag, ids in FACTS['byTag'].items():
        assert [job.id for job in service.queryJobs(tag=tag, size=100)[1]] \
            == ids, tag


def test_wait_reasons_and_dependents(prev):
    service = prev.service
    for role, reason in FACTS['waitReasons'].items():
        assert service.getWaitReason(IDS[role], now=NOW) == reason, role
    for role, dependents in FACTS['dependents'].items():
        assert service.getDependents(IDS[role]) == dependents, role
    assert service.getDependents(IDS['low']) \
        == [IDS['blocked_after'], IDS['blocked_tag']]


def test_pauses_and_limits_are_kept(prev):
    service = prev.service
    assert service.pausedTasks() == FACTS['pausedTasks'] == ['paused']
    assert service.isPaused('paused') and not service.isPaused()
    assert service.getTaskLimits(now=NOW) == FACTS['taskLimits']


def test_groups_read_back(prev):
    service = prev.service
    for role, facts in GROUPS.items():
        group = service.getGroup(facts['id'])
        assert MAKER.group_facts(group) == facts, role
        assert group.created is None  # stored before groups had it
    total, groups = service.queryGroups()
    assert total == 2
    assert [group.id for group in groups] \
        == [GROUPS['group_running']['id'], GROUPS['group_done']['id']]
    assert service.queryGroups(start=1, size=5)[1] == groups[1:]


def test_results_errors_progress_and_workers(prev):
    service = prev.service
    for role, result in FACTS['results'].items():
        assert MAKER.plain(service.getResult(IDS[role])) == result, role
    assert service.getError(IDS['error']) == FACTS['error']
    assert 'TaskError' in prev.job('error').traceback
    assert 'TaskError' in prev.job('group_running_m1').traceback
    assert list(service.getProgress(IDS['processing_lost'])) \
        == FACTS['progress']
    assert sorted(service.workers(now=NOW), key=lambda w: w['id']) \
        == FACTS['workers']
    assert [job.id for job in service.stuckJobs(now=NOW)] \
        == FACTS['stuckJobs']
    assert [job.id for job in service.overTimeLimit(now=NOW)] \
        == FACTS['overTimeLimit'] == [IDS['processing_lost']]
    assert prev.document.title == FACTS['documentState']['title'] == 'first'


def test_unique_jobs_are_found(prev):
    service = prev.service
    for key, jobid in FACTS['unique'].items():
        assert service.findUnique(key) == jobid, key
    with prev.tm:
        assert service.add('echo', 'again', uniqueKey=MAKER.UNIQUE_KEY) \
            == IDS['unique_waiting']
        assert activation.activate(prev.document, unique=True).reindex() \
            == IDS['activate_waiting']
        again = service.add('echo', 'new once', uniqueKey='u-done')
    assert again not in IDS.values()
    assert service.countByTask() == dict(
        FACTS['countByTask'], echo=FACTS['countByTask']['echo'] + 1)


def test_the_indexes_check_clean(prev):
    assert prev.service.checkIndex() == []


def test_the_indexes_check_clean_once_worker_b_folded(prev):
    _fold_worker_b(prev)
    service = prev.service
    assert service.checkIndex() == []
    assert service.rebuildIndex() == []
    assert service.countByStatus() == dict(
        FACTS['countByStatus'],
        processing=FACTS['countByStatus']['processing'] - 1,
        completed=FACTS['countByStatus']['completed'] + 1)
    # the callback watches the next member that has not finished
    assert service.getDependents(IDS['group_running_m3']) \
        == [IDS['group_running_callback']]


# -- it keeps working ---------------------------------------------------------

def test_process_runs_what_is_due_by_priority(prev, principal):
    service = prev.service
    calls = {repr(prev.job(role).input): role
             for role in DUE if role != 'activate_waiting'}
    keys = {role: prev.job(role).queueKey for role in calls.values()}
    # the due jobs, two chain steps and the jobs they release
    assert service.process(now=NOW) == len(DUE) + 2 + len(RELEASED_BY_DUE)
    for role in DUE + RELEASED_BY_DUE:
        assert prev.status(role) == COMPLETED, role
        assert prev.job(role).completed == NOW
    for role, status in HELD.items():
        assert prev.status(role) == status, role
    # in the order of the queue keys the previous main gave them
    # (priority, aged by the time waited)
    ran = [calls[repr(input)] for _, input in MAKER.CALLS
           if repr(input) in calls]
    assert ran == sorted(keys, key=keys.get)
    assert ran[0] == 'high' and ran[-1] == 'low'
    _consistent(prev)


def test_resume_runs_the_paused_task(prev):
    service = prev.service
    with prev.tm:
        service.resume('paused')
    assert service.pausedTasks() == []
    service.process(now=NOW)
    assert prev.status('paused_job') == COMPLETED
    assert service.getResult(IDS['paused_job']) == 'paused job'
    assert service.getWaitReason(IDS['paused_job'], now=NOW) is None
    _consistent(prev)


def test_blocked_jobs_run_once_their_dependencies_finished(prev):
    service = prev.service
    for role in ('blocked_after', 'blocked_tag', 'blocked_task'):
        assert prev.status(role) == BLOCKED
    assert prev.status('released') == QUEUED
    service.process(now=NOW)
    inputs = [input for _, input in MAKER.CALLS]
    for role, before in (('blocked_after', 'low'), ('blocked_tag', 'low'),
                         ('blocked_task', 'limited_job'),
                         ('released', 'dep_parent')):
        assert prev.status(role) == COMPLETED, role
        if before != 'dep_parent':  # that one ran in the fixture
            assert inputs.index(prev.job(before).input) \
                < inputs.index(prev.job(role).input), role
    assert service.getDependents(IDS['low']) == []
    assert service.getDependents(IDS['limited_job']) == []
    _consistent(prev)


def test_the_groups_callback_gets_every_members_result_once(prev):
    service = prev.service
    gid = GROUPS['group_running']['id']
    service.process(now=NOW)
    # it watches the member that worker-b finished and did not fold
    assert prev.status('group_running_callback') == BLOCKED
    assert _calls('collect') == []
    assert service.getGroup(gid).done == 4
    with prev.tm:  # worker-b is lost: the sweep folds its member
        assert service.sweep(now=FAR) == 2
    service.process(now=FAR)
    assert _calls('collect') == [{
        'group': 'running',
        'results': [{'i': 0}, None, {'i': 2}, {'i': 3}, {'i': 4}],
        'errors': [None, "failed with {'i': 1}", None, None, None]}]
    assert prev.status('group_running_callback') == COMPLETED
    group = service.getGroup(gid)
    assert (group.total, group.done, group.failed, group.status) \
        == (5, 5, 1, 'failed')
    assert group.results() == [{'i': 0}, None, {'i': 2}, {'i': 3}, {'i': 4}]
    assert group.errors() == [None, "failed with {'i': 1}", None, None,
                              None]
    service.process(now=FAR + 10)
    assert len(_calls('collect')) == 1
    assert prev.job('group_running_callback').attempts == 1
    _consistent(prev)


def test_the_finished_group_is_cleaned(prev):
    service = prev.service
    done, running = GROUPS['group_done'], GROUPS['group_running']
    with pytest.raises(ValueError, match='is running'):
        service.cleanGroup(running['id'])
    assert service.cleanGroup(done['id']) == 3
    for jobid in done['jobIds'] + [done['callbackId']]:
        assert jobid not in service.jobs
    with pytest.raises(KeyError):
        service.getGroup(done['id'])
    total, groups = service.queryGroups()
    assert (total, [group.id for group in groups]) == (1, [running['id']])
    _consistent(prev)
    prev.reopen()
    assert prev.service.queryGroups()[0] == 1


def test_chain_steps_are_added(prev):
    service = prev.service
    with prev.tm:
        assert service.startJob(IDS['chain_added'])
    service.process(now=NOW)
    assert service.getResult(IDS['chain_added']) == {'step': 2,
                                                     'result': {'x': 1}}
    step1 = {'step': 1}
    step2 = {'step': 2, 'result': step1}
    step3 = {'step': 3, 'result': step2}
    echoed = _calls('echo')
    assert echoed.index(step1) < echoed.index(step2) < echoed.index(step3)
    steps = {repr(job.input): job for job in service.jobs.values()
             if job.task == 'echo' and isinstance(job.input, dict)
             and 'step' in job.input}
    assert steps[repr(step3)].status == COMPLETED
    assert steps[repr(step3)].then is None
    assert prev.job('chain_waiting').then is None
    _consistent(prev)


def test_the_activation_calls_the_documents_method(prev):
    service = prev.service
    key = activation.unique_key(prev.document, 'reindex')
    assert service.findUnique(key) == IDS['activate_waiting']
    service.process(now=NOW)
    assert prev.status('activate_waiting') == COMPLETED
    assert service.getResult(IDS['activate_waiting']) == 1
    assert prev.document.indexed == 1
    assert prev.document.title == 'first'
    assert service.findUnique(key) is None
    prev.reopen()
    assert prev.document.indexed == 1


def test_the_run_as_job_runs_as_its_principal(prev, principal):
    assert prev.job('run_as').runAs == MAKER.PRINCIPAL
    prev.service.process(now=NOW)
    assert prev.status('run_as') == COMPLETED
    assert prev.service.getResult(IDS['run_as']) == MAKER.PRINCIPAL


def test_the_run_as_job_fails_without_its_principal(prev):
    prev.service.process(now=NOW)
    assert prev.status('run_as') == ERROR
    assert prev.service.getError(IDS['run_as']) \
        == "principal 'alice' no longer exists (no authentication utility)"
    assert _calls('whoami') == []


def test_time_limits_are_kept(prev):
    service = prev.service
    assert prev.job('time_limit').timeLimit == 30.0
    assert service.overTimeLimit(now=prev.job('processing_lost').started
                                 + 60) == []
    with prev.tm:
        service.sweep(now=FAR)  # the lost worker's job runs again
    service.process(now=FAR + 10)
    assert prev.status('time_limit') == COMPLETED
    assert prev.status('processing_lost') == COMPLETED
    assert service.overTimeLimit(now=FAR + 1000) == []


def test_the_cancel_request_stops_the_running_job(prev):
    service = prev.service
    jobid = IDS['processing_cancel']
    # the worker that claimed the job runs it: it sees the request
    runner.run_job(service, prev.tm, jobid, NOW, owner=MAKER.CANCEL_WORKER)
    assert _calls('slow') == ['stop me']
    assert service.getStatus(jobid) == CANCELLED
    assert service.getError(jobid) == 'cancelled while running by system'
    runner.fold(service, prev.tm, MAKER.CANCEL_WORKER, NOW)
    assert jobid in list(service.jobIdsByStatus(CANCELLED))
    _consistent(prev)


def test_a_cancelled_running_job_can_be_retried(prev):
    service = prev.service
    jobid = IDS['processing_cancel']
    runner.run_job(service, prev.tm, jobid, NOW, owner=MAKER.CANCEL_WORKER)
    assert service.getStatus(jobid) == CANCELLED
    with prev.tm:
        assert service.retry(jobid, now=NOW)
    service.process(now=NOW + 1)
    assert _calls('slow') == ['stop me', 'stop me']
    assert service.getStatus(jobid) == COMPLETED
    assert service.getResult(jobid) == 'stop me'


def test_sweep_retries_the_lost_job_and_frees_its_tag(prev):
    service = prev.service
    with prev.tm:
        assert service.sweep(now=FAR) == 2
    lost = prev.job('processing_lost')
    assert lost.status == QUEUED
    assert lost.error.startswith('worker lost: lost-worker')
    assert '(attempt 1 of 2)' in lost.error
    service.process(now=FAR + 10)
    assert prev.status('processing_lost') == COMPLETED
    assert prev.status('serial_parked') == COMPLETED
    # the job asked to stop did not end: it runs again (the request was
    # for the run that was lost)
    assert prev.status('processing_cancel') == COMPLETED
    assert _calls('slow') == ['stop me']
    assert prev.job('processing_cancel').attempts == 2
    _consistent(prev)


def test_cron_jobs_keep_running(prev):
    service = prev.service
    fields, string = prev.job('cron_fields'), prev.job('cron_string')
    service.process(now=NOW)
    assert string.scheduledFor == NOW + 300  # 03:10
    half_past = FACTS['scheduledFor']['cron_fields']
    service.process(now=half_past)
    assert (fields.status, fields.runs) == (CRONJOB, 2)
    assert service.getResult(fields.id) == 'nightly'
    assert fields.scheduledFor == MAKER.T0 + 86400 + 3 * 3600
    assert string.runs == 1 and string.serializationTag == 'five'
    assert fields.priority == 2 and fields.tags == ('cron',)
    _consistent(prev)


def test_new_jobs_run_on_the_old_service(prev):
    service = prev.service
    with prev.tm:
        jobid = service.add('echo', 'new', priority=-20, tag='new', now=NOW)
        gid = service.addGroup([('echo', {'n': n}) for n in range(3)],
                               then=('collect', {'group': 'new'}), now=NOW)
    assert jobid > max(IDS.values())
    assert service.queryGroups()[0] == 3
    service.process(now=NOW)
    assert service.getResult(jobid) == 'new'
    assert MAKER.CALLS[0] == ('echo', 'new')
    group = service.getGroup(gid)
    assert (group.done, group.status) == (3, 'completed')
    assert {'group': 'new', 'results': [{'n': 0}, {'n': 1}, {'n': 2}]} \
        in _calls('collect')
    _consistent(prev)


def test_grouped_jobs_run_on_the_old_service(prev):
    service = prev.service
    transactions = []

    def batched(input):
        transactions.append(id(prev.tm.get()))
        return input * 2
    testing.register_task('batched', SimpleTask(batched, groupSize=10))
    with prev.tm:
        ids = [service.add('batched', n, priority=-20, now=NOW)
               for n in range(12)]
        gid = service.addGroup([('batched', 100 + n) for n in range(3)],
                               then=('collect', {'group': 'batched'}),
                               now=NOW)
    service.process(now=NOW)
    assert [service.getResult(jobid) for jobid in ids] \
        == [n * 2 for n in range(12)]
    assert len(transactions) == 15
    assert max(collections.Counter(transactions).values()) > 1
    assert service.getGroup(gid).results() == [200, 202, 204]
    assert {'group': 'batched', 'results': [200, 202, 204]} \
        in _calls('collect')
    _consistent(prev)


def test_rewritten_jobs_reopen_in_their_new_form(prev, principal):
    service = prev.service
    serials = {role: prev.record_serial(prev.job(role)) for role in IDS}
    with prev.tm:
        service.resume('paused')
        service.startJob(IDS['startlater'])
        service.sweep(now=FAR)
        added = service.add('echo', 'after 596a925', tag='beta', now=FAR)
    service.process(now=FAR + 10)
    statuses = prev.statuses()
    options = {jobid: MAKER.options_of(job)
               for jobid, job in service.jobs.items()}
    counts, tasks = service.countByStatus(), service.countByTask()
    assert statuses[added] == COMPLETED
    rewritten = [role for role in IDS
                 if prev.record_serial(prev.job(role)) != serials[role]]
    assert 'group_running_callback' in rewritten and 'low' in rewritten
    prev.reopen()
    service = prev.service
    assert prev.statuses() == statuses
    assert {jobid: MAKER.options_of(job)
            for jobid, job in service.jobs.items()} == options
    assert service.countByStatus() == counts
    assert service.countByTask() == tasks
    for role in IDS:
        state = prev.stored_state(prev.job(role))
        assert type(state) is (tuple if role in rewritten else dict), role
    for role in rewritten:  # what the previous main stored is kept
        now, then = MAKER.options_of(prev.job(role)), FACTS['options'][role]
        assert {name: now[name] for name in KEPT} \
            == {name: then[name] for name in KEPT}, role
    assert prev.job('group_running_callback').callbackOf \
        == GROUPS['group_running']['id']
    assert prev.job('group_running_m4').tags == ('g-run', 'last') \
        == tuple(FACTS['options']['group_running_m4']['tags'])
    assert prev.job('low').priority == 10
    assert service.getGroup(GROUPS['group_running']['id']).done == 5
    _consistent(prev)
    # and they keep working in their new form
    group = service.getGroup(GROUPS['group_running']['id'])
    with prev.tm:
        assert service.retry(IDS['group_running_m1'])
    assert (group.done, group.failed, group.status) == (4, 0, 'running')
    service.process(now=FAR + 20)
    assert prev.status('group_running_m1') == ERROR
    assert (group.done, group.failed, group.status) == (5, 1, 'failed')
    assert len(_calls('collect')) == 1  # the callback ran before
    _consistent(prev)



def test_two_workers_shard_the_old_queue_and_run_everything(prev,
                                                             principal):
    """The previous main kept one ready queue (a BTreeQueue): the first
    claim of a worker that is not alone makes it the first shard; its
    entries are claimed, cancelled and released as before."""
    from zodbtasks.dispatch import Dispatch
    from zodbtasks.queue import BTreeQueue
    from zodbtasks.shards import ShardedQueue
    service = prev.service
    assert type(service._queue) is BTreeQueue
    old = service._queue
    with prev.tm:
        new = service.add('echo', 'after the change', now=NOW)
    with prev.tm:
        dispatch = Dispatch(service)
        dispatch.claimJobs(FAR, 1, 'w1')
        dispatch.claimJobs(FAR, 1, 'w2')              # not alone: shards
    assert isinstance(service._queue, ShardedQueue)
    assert service._queue.shards[0] is old
    for owner in ('w1', 'w2'):
        with prev.tm:
            Dispatch(service).releaseWorkerJobs(owner)
            Dispatch(service).retire(owner)
    service.process(now=FAR)
    assert service.getStatus(new) == COMPLETED
    for role in DUE:
        assert prev.status(role) == COMPLETED, role
    _consistent(prev)
    prev.reopen()
    assert isinstance(prev.service._queue, ShardedQueue)
    _consistent(prev)


# -- tallies (zodbtasks.tallies), made on first use ---------------------------

def _tallied(service):
    """(task, status) -> count, and priority -> count of jobs neither
    processing nor completed, from the jobs and the status sets."""
    index = service._index
    status_of = {jobid: status for status in STATUSES
                 for jobid in index.ids_by_status(status)}
    by_task = collections.Counter((job.task, status_of[job.id])
                                  for job in service.jobs.values())
    by_priority = collections.Counter(
        job.priority for job in service.jobs.values()
        if status_of[job.id] not in (PROCESSING, COMPLETED))
    return by_task, dict(sorted(by_priority.items()))


def _check_tallies(service):
    by_task, by_priority = _tallied(service)
    index = service._index
    for task in FACTS['countByTask']:
        for status in STATUSES:
            assert index.count_by_status_and_task(status, task) \
                == by_task[(task, status)], (task, status)
    assert index.count_by_priority(service.jobs) == by_priority
    assert tallies.problems(index.task_tally, 'task', False) == []
    assert tallies.problems(index.priority_tally, 'priority', False) == []


def test_the_tallies_are_made_on_first_use(prev):
    index = prev.service._index
    assert (index.task_tally, index.priority_tally, index.by_priority) \
        == (None, None, None)
    assert index.by_status.listeners == ()
    _check_tallies(prev.service)
    assert index.count_by_priority(prev.service.jobs) == {
        int(priority): count
        for priority, count in FACTS['countByPriority'].items()}
    assert prev.service.checkIndex() == []
    prev.tm.commit()
    prev.reopen()
    assert prev.service._index.task_tally is not None
    _check_tallies(prev.service)


def test_the_tallies_follow_the_jobs_once_made(prev, principal):
    service = prev.service
    _check_tallies(service)
    prev.tm.commit()
    with prev.tm:
        service.resume('paused')
        service.add('echo', 'tallied', priority=3, now=NOW)
    service.process(now=NOW)
    with prev.tm:
        service.sweep(now=FAR)
    service.process(now=FAR + 10)
    _check_tallies(service)
    _consistent(prev)
    total, jobs = service.queryJobs(status=COMPLETED, task='echo', size=100)
    assert total == _tallied(service)[0][('echo', COMPLETED)]
    assert [job.id for job in jobs] == sorted(
        (job.id for job in service.jobs.values()
         if job.task == 'echo' and job.status == COMPLETED), reverse=True)
