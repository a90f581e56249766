"""Grouped execution: the jobs of a grouping task (IBatchTask,
``SimpleTask(func, groupSize=N)``) run up to N at a time in one
transaction, with a savepoint per job."""
import threading

import pytest
import transaction
import zope.interface
from zope.interface.verify import verifyObject
from persistent.mapping import PersistentMapping
from ZODB.POSException import ConflictError

from zodbtasks import cancels
from zodbtasks import grouping
from zodbtasks import runner
from zodbtasks import testing
from zodbtasks.dispatch import Dispatch
from zodbtasks.interfaces import CANCELLED
from zodbtasks.interfaces import COMPLETED
from zodbtasks.interfaces import ERROR
from zodbtasks.interfaces import IBatchTask
from zodbtasks.interfaces import ITask
from zodbtasks.interfaces import MAX_GROUP_SIZE
from zodbtasks.retry import RetryPolicy
from zodbtasks.task import SimpleTask
from zodbtasks.task import TaskError
from zodbtasks.task import checkpoint


def serials(service, ids):
    """How many transactions wrote the jobs' outcomes last."""
    return len({service.jobs[jobid]._p_serial for jobid in ids})


@pytest.fixture
def seen():
    return []


@pytest.fixture
def note(service, seen):
    """A grouping task (groups of 100) that records its input in a
    persistent mapping of the site and fails for negative inputs after
    writing."""
    site = service.getSite()
    site['notes'] = notes = PersistentMapping()
    transaction.commit()

    def write(n):
        seen.append(n)
        notes[n] = True
        if n < 0:
            raise TaskError('negative %d' % n)
        if n == 666:
            raise ValueError('the beast')
        return n * 2
    task = SimpleTask(write, groupSize=100)
    testing.register_task('note', task)
    return notes


def test_simple_task_with_group_size_provides_ibatchtask():
    task = SimpleTask(lambda n: n, groupSize=10)
    assert IBatchTask.providedBy(task) and task.groupSize == 10
    assert verifyObject(IBatchTask, task)
    assert not IBatchTask.providedBy(SimpleTask(lambda n: n))
    for bad in (0, -1, MAX_GROUP_SIZE + 1, 2.5, '10', True):
        with pytest.raises(ValueError, match='groupSize: expected a whole '
                                             'number from 1 to 1000'):
            SimpleTask(lambda n: n, groupSize=bad)


def test_jobs_run_a_hundred_per_transaction(service, note, seen):
    ids = [service.add('note', n) for n in range(250)]
    transaction.commit()
    assert service.process() == 250
    assert [service.getStatus(jobid) for jobid in ids] == [COMPLETED] * 250
    assert [service.getResult(jobid) for jobid in ids] == [
        n * 2 for n in range(250)]
    assert seen == list(range(250))
    assert serials(service, ids) == 3
    assert sorted(note) == list(range(250))
    assert service.checkIndex() == []


def test_priorities_hold_inside_a_group(service, note, seen):
    ids = [service.add('note', n, priority=-n) for n in range(10)]
    transaction.commit()
    service.process()
    assert seen == list(reversed(range(10)))
    assert serials(service, ids) == 1


def test_a_failing_job_is_rolled_back_alone(service, note, seen, quiet):
    ids = [service.add('note', n) for n in (1, -2, 3, 666, 4)]
    transaction.commit()
    service.process()
    assert [service.getStatus(jobid) for jobid in ids] == [
        COMPLETED, ERROR, COMPLETED, ERROR, COMPLETED]
    assert service.getError(ids[1]) == 'negative -2'
    assert service.getError(ids[3]) == 'ValueError: the beast'
    assert 'raise ValueError' in service.jobs[ids[3]].traceback
    assert sorted(note) == [1, 3, 4]          # -2 and 666 rolled back
    assert serials(service, ids) == 1         # one transaction for all
    assert seen == [1, -2, 3, 666, 4]         # each called once


def test_retry_counters_stay_per_job(service, note, quiet):
    policy = RetryPolicy(maxAttempts=3, delay=0, retryErrors=True)
    bad = service.add('note', -1, retryPolicy=policy)
    good = service.add('note', 5)
    transaction.commit()
    service.process(now=1000.0)
    assert service.getStatus(good) == COMPLETED
    assert service.jobs[good].attempts == 1
    assert service.jobs[bad].attempts == 3
    assert service.getStatus(bad) == ERROR


def test_group_keys_and_tasks_make_separate_groups(service, note, seen):
    testing.register_task('other', SimpleTask(lambda n: n, groupSize=100))
    a = [service.add('note', n, groupKey='a') for n in range(3)]
    b = [service.add('note', n + 10, groupKey='b') for n in range(3)]
    c = [service.add('other', n) for n in range(3)]
    transaction.commit()
    service.process()
    assert serials(service, a) == serials(service, b) == 1
    assert serials(service, c) == 1
    assert serials(service, a + b + c) == 3


def test_group_key_is_checked(service, note):
    for bad in ('', 5, 'x' * 1001):
        with pytest.raises(ValueError, match='groupKey'):
            service.add('note', 1, groupKey=bad)
    assert len(service) == 0


def test_units_split_claimed_jobs(service, note):
    testing.register_task('plain', lambda n: n)
    ids = [service.add('note', 1), service.add('plain', 2),
           service.add('note', 3, groupKey='k'), service.add('note', 4),
           service.add('note', 5, runAs='alice')]
    units = grouping.units(service, ids)
    assert [(unit.batch, unit.ids) for unit in units] == [
        (True, [ids[0], ids[3]]), (False, [ids[1]]), (True, [ids[2]]),
        (True, [ids[4]])]


def test_a_group_is_cut_at_its_size(service, seen):
    testing.register_task('small', SimpleTask(seen.append, groupSize=3))
    ids = [service.add('small', n) for n in range(7)]
    transaction.commit()
    service.process()
    assert serials(service, ids) == 3
    assert [service.getStatus(jobid) for jobid in ids] == [COMPLETED] * 7


def test_process_next_runs_one_job(service, note, seen):
    ids = [service.add('note', n) for n in range(5)]
    transaction.commit()
    assert service.processNext() is True
    assert seen == [0]
    assert service.getStatus(ids[1]) != COMPLETED


def test_serialization_tags_hold_inside_groups(service, note, seen):
    ids = [service.add('note', n, serializationTag='one') for n in range(4)]
    transaction.commit()
    service.process()
    assert [service.getStatus(jobid) for jobid in ids] == [COMPLETED] * 4
    assert serials(service, ids) == 4       # each held the tag alone


def test_limits_hold_inside_groups(service, note):
    service.setTaskLimit('note', maxRunning=1)
    ids = [service.add('note', n) for n in range(4)]
    transaction.commit()
    service.process()
    assert [service.getStatus(jobid) for jobid in ids] == [COMPLETED] * 4
    assert serials(service, ids) == 4


def test_a_callback_of_a_group_runs_alone(service, seen):
    calls = []
    task = SimpleTask(lambda data: calls.append(data), groupSize=10)
    testing.register_task('batch', task)
    gid = service.addGroup([('batch', {'n': n}) for n in range(3)],
                           then=('batch', {'label': 'done'}))
    transaction.commit()
    service.process()
    group = service.getGroup(gid)
    assert service.getStatus(group.callbackId) == COMPLETED
    assert calls[-1] == {'label': 'done', 'results': [None] * 3}


# -- IBatchTask ---------------------------------------------------------------

@zope.interface.implementer(IBatchTask)
class Batch:
    """Records each runBatch call's job inputs; ``answer(jobs)`` decides
    what it returns (default: each input + 1)."""

    groupSize = 50

    def __init__(self, answer=None):
        self.calls = []
        self.answer = answer or (lambda jobs: [job.input + 1
                                               for job in jobs])

    def __call__(self, service, jobid, input):
        return self.runBatch(service, [service.jobs[jobid]])[0]

    def runBatch(self, service, jobs):
        self.calls.append([job.input for job in jobs])
        return self.answer(jobs)


def test_run_batch_gets_the_group_once(service):
    batch = Batch()
    testing.register_task('batch', batch)
    ids = [service.add('batch', n) for n in range(5)]
    transaction.commit()
    service.process()
    assert batch.calls == [[0, 1, 2, 3, 4]]
    assert [service.getResult(jobid) for jobid in ids] == [1, 2, 3, 4, 5]


def test_an_exception_instance_fails_its_job(service, quiet):
    batch = Batch(lambda jobs: [TaskError('odd') if job.input % 2 else
                                job.input for job in jobs])
    testing.register_task('batch', batch)
    ids = [service.add('batch', n) for n in range(4)]
    transaction.commit()
    service.process()
    assert [service.getStatus(jobid) for jobid in ids] == [
        COMPLETED, ERROR, COMPLETED, ERROR]
    assert service.getError(ids[1]) == 'odd'
    assert batch.calls == [[0, 1, 2, 3]]


def test_a_raising_batch_runs_each_job_alone(service, quiet):
    site = service.getSite()
    site['written'] = written = PersistentMapping()
    transaction.commit()

    def answer(jobs):
        for job in jobs:
            written[job.input] = True
        if any(job.input == 2 for job in jobs):
            raise ValueError('two is bad')
        return [job.input for job in jobs]
    batch = Batch(answer)
    testing.register_task('batch', batch)
    ids = [service.add('batch', n) for n in range(4)]
    transaction.commit()
    service.process()
    assert batch.calls == [[0, 1, 2, 3], [0], [1], [2], [3]]
    assert [service.getStatus(jobid) for jobid in ids] == [
        COMPLETED, COMPLETED, ERROR, COMPLETED]
    assert service.getError(ids[2]) == 'ValueError: two is bad'
    assert sorted(written) == [0, 1, 3]
    assert serials(service, ids) == 1


def test_a_wrong_number_of_results_is_an_error(service, quiet):
    batch = Batch(lambda jobs: [1])
    testing.register_task('batch', batch)
    ids = [service.add('batch', n) for n in range(3)]
    transaction.commit()
    service.process()
    assert [service.getStatus(jobid) for jobid in ids[1:]] == [COMPLETED] * 2
    assert service.getStatus(ids[0]) == COMPLETED   # alone, one result fits
    batch.answer = lambda jobs: None
    other = service.add('batch', 9)
    transaction.commit()
    service.process()
    assert service.getStatus(other) == ERROR
    assert service.getError(other) == (
        "runBatch of task 'batch' returned NoneType for 1 jobs; expected a "
        "list of one result (or exception) per job")


def test_a_result_too_large_fails_its_job_alone(service, quiet):
    service.maxInputSize = 1000
    batch = Batch(lambda jobs: ['x' * 5000 if job.input == 1 else job.input
                                for job in jobs])
    testing.register_task('batch', batch)
    ids = [service.add('batch', n) for n in range(3)]
    transaction.commit()
    service.process()
    assert [service.getStatus(jobid) for jobid in ids] == [
        COMPLETED, ERROR, COMPLETED]
    assert service.getError(ids[1]).startswith('result too large')


def test_a_conflicting_group_is_retried_then_halved(service, quiet):
    def answer(jobs):
        if len(jobs) > 2:
            raise ConflictError('a group of %d conflicts' % len(jobs))
        return [job.input for job in jobs]
    batch = Batch(answer)
    testing.register_task('batch', batch)
    ids = [service.add('batch', n) for n in range(8)]
    transaction.commit()
    service.process()
    assert [len(call) for call in batch.calls] == [
        8, 8, 4, 4, 2, 2, 4, 4, 2, 2]
    assert [service.getStatus(jobid) for jobid in ids] == [COMPLETED] * 8
    assert [service.jobs[jobid].attempts for jobid in ids] == [1] * 8
    assert serials(service, ids) == 4


def test_a_single_job_that_always_conflicts_gives_up(service, quiet):
    def answer(jobs):
        raise ConflictError('always')
    testing.register_task('batch', Batch(answer))
    jobid = service.add('batch', 1)
    transaction.commit()
    service.process()
    assert service.getStatus(jobid) == ERROR
    assert service.getError(jobid).startswith('gave up after 5 conflicting')


@zope.interface.implementer(transaction.interfaces.IDataManager)
class NoSavepoints:
    """A data manager that cannot take savepoints (like many mailers)."""

    transaction_manager = None

    def __init__(self, log):
        self.log = log

    def abort(self, txn):
        pass

    def tpc_begin(self, txn):
        pass

    def commit(self, txn):
        pass

    def tpc_vote(self, txn):
        pass

    def tpc_finish(self, txn):
        self.log.append('sent')

    def tpc_abort(self, txn):
        pass

    def sortKey(self):
        return 'nosavepoints'


def test_a_data_manager_without_savepoints_runs_jobs_alone(service, quiet):
    log = []
    tm = runner.transaction_manager_of(service)

    def send(n):
        tm.get().join(NoSavepoints(log))
        return n
    testing.register_task('send', SimpleTask(send, groupSize=10))
    ids = [service.add('send', n) for n in range(4)]
    transaction.commit()
    service.process()
    assert [service.getStatus(jobid) for jobid in ids] == [COMPLETED] * 4
    assert log == ['sent'] * 4
    assert serials(service, ids) == 4


def test_a_job_cancelled_in_its_group_is_rolled_back(db, service, quiet):
    site = service.getSite()
    site['written'] = written = PersistentMapping()
    transaction.commit()

    @zope.interface.implementer(IBatchTask)
    class Checking:
        groupSize = 10

        def __call__(self, service, jobid, input):
            raise AssertionError('not called alone')

        def runBatch(self, service, jobs):
            for job in jobs:
                written[job.input] = True
                checkpoint(service, job.id)
            return [job.input for job in jobs]
    testing.register_task('checking', Checking())
    ids = [service.add('checking', n) for n in range(3)]
    transaction.commit()
    tm = runner.transaction_manager_of(service)
    claimed = runner.claim(service, tm, 1000.0, 10, 'me')
    assert claimed == ids
    with testing.open_service(db, service._p_oid) as (_, other_tm, other):
        with other_tm:
            assert other.cancel(ids[1]) is True
    cancels._last_look.clear()
    runner.run_group(service, tm, claimed, 1001.0, 'me')
    runner.fold(service, tm, 'me', 1002.0)
    assert [service.getStatus(jobid) for jobid in ids] == [
        COMPLETED, CANCELLED, COMPLETED]
    assert service.getError(ids[1]).startswith('cancelled while running')
    assert sorted(written) == [0, 2]


def test_a_member_counts_its_time_from_its_own_start(service, note):
    jobid = service.add('note', 1, timeLimit=10)
    job = service.jobs[jobid]
    job.started = 0.0
    task = service.getTask('note')
    assert cancels.over_time_limit(job, task, 105.0)
    with cancels.running_from(jobid, 100.0):
        assert not cancels.over_time_limit(job, task, 105.0)
        assert cancels.over_time_limit(job, task, 111.0)
    assert cancels.over_time_limit(job, task, 105.0)


def test_processor_threads_run_groups(db, service, note):
    ids = [service.add('note', n) for n in range(300)]
    transaction.commit()
    done = threading.Event()
    testing.register_task('last', lambda n: done.set())
    service.add('last', None, after=ids)
    transaction.commit()
    service.startProcessing()
    assert done.wait(60)
    service.stopProcessing()
    transaction.abort()
    with testing.open_service(db, service._p_oid) as (_, tm, fresh):
        with tm:
            assert [fresh.getStatus(jobid) for jobid in ids] == [
                COMPLETED] * 300
            assert serials(fresh, ids) <= 6


def test_claim_grows_to_the_group_size_only_up_to_most(service, note):
    for n in range(150):
        service.add('note', n)
    transaction.commit()
    assert len(Dispatch(service).claimJobs(1.0, 20, 'w')) == 100
    transaction.abort()
    assert len(Dispatch(service).claimJobs(1.0, 20, 'w', most=30)) == 30
    transaction.abort()
    assert len(Dispatch(service).claimJobs(1.0, 1, 'w', most=1)) == 1
    transaction.abort()


def test_a_task_with_a_bad_group_size_runs_alone(service, quiet):
    batch = Batch()
    batch.groupSize = 'many'
    testing.register_task('batch', batch)
    ids = [service.add('batch', n) for n in range(3)]
    transaction.commit()
    service.process()
    assert batch.calls == [[0], [1], [2]]
    assert [service.getResult(jobid) for jobid in ids] == [1, 2, 3]


def test_a_plain_task_is_not_grouped(service):
    assert grouping.group_size(SimpleTask(lambda n: n)) is None
    assert grouping.group_size(None) is None

    @zope.interface.implementer(ITask)
    class Plain:
        groupSize = 10

        def __call__(self, service, jobid, input):
            return input
    assert grouping.group_size(Plain()) is None


def test_jobs_of_a_task_gone_since_end_in_error(service, note, quiet):
    ids = [service.add('note', n) for n in range(3)]
    transaction.commit()
    zope.component.getGlobalSiteManager().unregisterUtility(
        provided=ITask, name='note')
    assert service.process() == 3
    assert [service.getStatus(jobid) for jobid in ids] == [ERROR] * 3
    assert service.getError(ids[0]).startswith(
        "UnknownTaskError: no task named 'note'")
