"""The task service on a history-free RelStorage over PostgreSQL: what
the FileStorage tests show, on a database where each connection polls
the server for invalidations and conflicts are detected by PostgreSQL
row locks at commit."""
import threading

import pytest
import transaction
import ZODB.config
from persistent.mapping import PersistentMapping
from ZODB.POSException import ConflictError

from zodbtasks import runner
from zodbtasks import testing
from zodbtasks.dispatch import Dispatch
from zodbtasks.interfaces import COMPLETED
from zodbtasks.interfaces import ERROR
from zodbtasks.interfaces import QUEUED
from zodbtasks.task import SimpleTask
from zodbtasks.task import TaskError

from .conftest import relstorage_config

#: How long a processor thread may take to run what a test added.
DEADLINE = 30.0


@pytest.fixture
def conn(relstorage_db):
    connection = relstorage_db.open()
    yield connection
    transaction.abort()
    connection.close()


@pytest.fixture
def service(conn):
    root = testing.setup_root(conn)
    site = testing.add_site(root, 'site1')
    svc = testing.add_service(site, 'jobs')
    transaction.commit()
    return svc


def bump(input):
    """Add 1 to the job's own counter (a PersistentMapping)."""
    input['value'] = input.get('value', 0) + 1
    return input['value']


def fail(input):
    raise TaskError('failed with %s' % (input,))


@pytest.fixture
def tasks():
    testing.register_task('bump', bump)
    testing.register_task('fail', fail)
    testing.register_task('square', lambda n: n * n)


def test_the_storage_is_a_history_free_relstorage(relstorage_db):
    storage = relstorage_db.storage
    assert type(storage).__name__ == 'RelStorage'
    assert storage._options.keep_history is False
    assert storage._adapter.keep_history is False


def test_process_runs_the_jobs_and_commits_their_effects(service, tasks,
                                                         quiet):
    counters = [PersistentMapping(value=0) for _ in range(5)]
    ids = [service.add('bump', counter) for counter in counters]
    failing = service.add('fail', 'x')
    transaction.commit()
    assert service.process() == 6
    assert [service.getStatus(jobid) for jobid in ids] == [COMPLETED] * 5
    assert [counter['value'] for counter in counters] == [1] * 5
    assert service.getStatus(failing) == ERROR
    assert service.jobs[failing].error == 'failed with x'
    assert service.checkIndex() == []


def test_another_database_sees_the_results(service, tasks, pg_dsn):
    """A second DB object on the same PostgreSQL database (as another
    process would have) reads what this one committed."""
    counter = PersistentMapping(value=0)
    jobid = service.add('bump', counter)
    transaction.commit()
    service.process()
    other = ZODB.config.databaseFromString(relstorage_config(pg_dsn))
    try:
        with testing.open_service(other, service._p_oid) as (_, tm, svc):
            assert svc.getStatus(jobid) == COMPLETED
            assert svc.jobs[jobid].input['value'] == 1
            assert svc.checkIndex() == []
    finally:
        other.close()


def test_the_processor_thread_runs_jobs_added_later(service, tasks):
    done = threading.Event()
    testing.register_task('signal', lambda input: done.set())
    service.startProcessing()
    counter = PersistentMapping(value=0)
    jobid = service.add('bump', counter)
    service.add('signal')
    transaction.commit()
    assert done.wait(DEADLINE)
    service.stopProcessing()
    svc = wait_status(service, jobid, COMPLETED)
    assert svc.jobs[jobid].input['value'] == 1


def test_the_processor_thread_polls_for_jobs_of_another_process(
        service, tasks, pg_dsn):
    """Jobs committed through another DB object wake no thread here: the
    processor finds them by polling (pollInterval)."""
    service.pollInterval = 0.2
    transaction.commit()
    done = threading.Event()
    testing.register_task('signal', lambda input: done.set())
    service.startProcessing()
    other = ZODB.config.databaseFromString(relstorage_config(pg_dsn))
    try:
        with testing.open_service(other, service._p_oid) as (_, tm, svc):
            svc.add('signal')
            tm.commit()
        assert done.wait(DEADLINE)
    finally:
        other.close()


def wait_status(service, jobid, status):
    """The service in a new transaction once ``jobid`` has ``status``
    (polled, at most DEADLINE seconds)."""
    done = threading.Event()
    for _ in range(int(DEADLINE / 0.05)):
        transaction.abort()
        if service.getStatus(jobid) == status:
            return service
        done.wait(0.05)
    pytest.fail('job %s is %s, not %s, after %ss' % (
        jobid, service.getStatus(jobid), status, DEADLINE))


def test_two_connections_claiming_the_same_job_conflict(service, tasks):
    """Both claim the one job from the same snapshot: exactly one commit
    wins, the other conflicts and, retried, finds nothing left."""
    jobid = service.add('square', 3)
    transaction.commit()
    db = service._p_jar.db()
    with testing.open_service(db, service._p_oid) as (_, tm1, svc1), \
            testing.open_service(db, service._p_oid) as (_, tm2, svc2):
        assert Dispatch(svc1).claimJobs(0, 1, 'worker-1') == [jobid]
        assert Dispatch(svc2).claimJobs(0, 1, 'worker-2') == [jobid]
        tm1.commit()
        with pytest.raises(ConflictError):
            tm2.commit()
        tm2.abort()
        assert runner.claim(svc2, tm2, 0, 1, 'worker-2') == []
        assert svc2.jobs[jobid].owner == 'worker-1'
    transaction.abort()
    assert service.checkIndex() == []


def test_two_connections_claiming_different_jobs_both_commit(service,
                                                             tasks):
    ids = [service.add('square', n) for n in range(6)]
    transaction.commit()
    db = service._p_jar.db()
    with testing.open_service(db, service._p_oid) as (_, tm1, svc1), \
            testing.open_service(db, service._p_oid) as (_, tm2, svc2):
        first = runner.claim(svc1, tm1, 0, 3, 'worker-1')
        second = runner.claim(svc2, tm2, 0, 3, 'worker-2')
    assert sorted(first + second) == ids
    transaction.abort()
    assert service.checkIndex() == []


def test_grouped_execution_runs_twenty_jobs_per_transaction(service):
    groups = []

    def add_one(input):
        input['value'] = input.get('value', 0) + 1
        return input['value']
    task = SimpleTask(add_one, groupSize=20)
    original = task.runBatch

    def run_batch(svc, jobs):
        groups.append(len(jobs))
        return original(svc, jobs)
    task.runBatch = run_batch
    testing.register_task('grouped', task)
    counters = [PersistentMapping(value=0) for _ in range(100)]
    ids = [service.add('grouped', counter) for counter in counters]
    transaction.commit()
    assert service.process() == 100
    assert groups == [20] * 5
    assert {service.getStatus(jobid) for jobid in ids} == {COMPLETED}
    assert [counter['value'] for counter in counters] == [1] * 100
    assert service.checkIndex() == []


def test_a_group_with_a_callback_runs_it_once_with_the_results(service,
                                                               quiet):
    seen = []

    def collect(data):
        seen.append(list(data['results']))
        return sum(data['results'])
    testing.register_task('square', lambda n: n * n)
    testing.register_task('collect', collect)
    gid = service.addGroup([('square', n) for n in (3, 1, 2)],
                           then=('collect', {}))
    transaction.commit()
    service.process()
    group = service.getGroup(gid)
    assert (group.total, group.done, group.status) == (3, 3, 'completed')
    assert seen == [[9, 1, 4]]
    assert service.getResult(group.callbackId) == 14
    assert service.getStatus(group.callbackId) == COMPLETED
    assert service.checkIndex() == []


def test_a_released_job_is_queued_again(service, tasks):
    jobid = service.add('square', 2)
    transaction.commit()
    tm = runner.transaction_manager_of(service)
    assert runner.claim(service, tm, 0, 1) == [jobid]
    runner.release(service, tm, [jobid])
    assert service.getStatus(jobid) == QUEUED
    assert service.checkIndex() == []
