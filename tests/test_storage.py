"""zodbtasks.storage and how processors use it: failed commits, storage
outages, the worker's identity after a fork (one database, no ZEO; the
ZEO cases are in tests/zeo/test_reconnect.py)."""
import logging
import os
import threading
import time

import persistent
import pytest
import transaction
from ZODB.POSException import ConflictError
from ZEO.Exceptions import ClientDisconnected
from ZODB.utils import z64

from zodbtasks import processor
from zodbtasks import storage
from zodbtasks import testing
from zodbtasks import transactions
from zodbtasks import workers
from zodbtasks.interfaces import COMPLETED
from zodbtasks.interfaces import ERROR
from zodbtasks.interfaces import PROCESSING
from zodbtasks import runner
from zodbtasks.dispatch import Dispatch

from zeo.consistency import index_mismatches


def _processor(db, service, owner='w1'):
    """A Processor set up as its thread's ``run()`` sets it up, so that
    the test drives its ``_iterate()``."""
    proc = processor.Processor(db, service._p_oid, 'zodbtasks.test', owner)
    proc.tm = transaction.TransactionManager()
    proc.service = db.open(transaction_manager=proc.tm).get(service._p_oid)
    return proc


def _iterate(proc):
    proc.wake()  # so that its wait after the tick returns at once
    proc._iterate()


def _index_matches_jobs(db, oid):
    """How countByStatus() and the status sets differ from the jobs."""
    with testing.open_service(db, oid) as (_, _, service):
        return index_mismatches(service)


@pytest.fixture
def stale_oid(monkeypatch):
    """``give(proc)``: the next new object of ``proc``'s connection gets
    the oid of an object that connection has loaded (the status counts),
    as a ZEO client gets one it fetched before the server restarted; its
    store is buffered as ZEO buffers it (the error comes later)."""
    def give(proc):
        proc.tm.begin()
        proc.service.countByStatus()  # the counts are in the cache
        taken = proc.service._index.by_status.counts._p_oid
        proc.tm.abort()
        adapter = proc.service._p_jar._storage
        new_oid, store = adapter.new_oid, adapter.store
        handed = []

        def stale_new_oid():
            if handed:
                return new_oid()
            handed.append(taken)
            return taken

        def buffered_store(oid, serial, data, version, txn):
            if oid != taken or serial != z64:  # not the new object
                return store(oid, serial, data, version, txn)
        monkeypatch.setattr(adapter, 'new_oid', stale_new_oid)
        monkeypatch.setattr(adapter, 'store', buffered_store)
        return handed
    return give


def test_a_claim_that_detached_a_cached_object_loses_no_index_write(
        db, service, tasks, quiet, stale_oid):
    # The defect after a ZEO restart: a new object gets the oid of an
    # object the connection has loaded; the cache refuses it ("A different
    # object already has the same oid"), the abort detaches the cached
    # object (the status counts here), and a connection used on writes
    # into the detached copy, silently.
    ids = [service.add('echo', n) for n in range(3)]
    transaction.commit()
    proc = _processor(db, service)
    handed = stale_oid(proc)
    _iterate(proc)  # the claim makes the worker's record: it fails
    assert handed
    _iterate(proc)
    with testing.open_service(db, service._p_oid) as (_, _, fresh):
        assert [fresh.jobs[jobid].status for jobid in ids] == [COMPLETED] * 3
    runner.fold(proc.service, proc.tm, proc.owner)  # the ends wait a bit
    assert _index_matches_jobs(db, service._p_oid) == []


def test_a_job_whose_commit_failed_runs_again_on_a_reset_connection(
        db, service, tasks, quiet, stale_oid, monkeypatch):
    jobid = service.add('echo', 'x')
    transaction.commit()
    proc = _processor(db, service)
    assert runner.claim(proc.service, proc.tm, 0, 5, 'w1') == [jobid]
    real_execute = runner._execute

    def execute_making_an_object(service, tm, jobid, now, owner):
        real_execute(service, tm, jobid, now, owner)
        service.jobs[jobid].output = testing.Folder()
    monkeypatch.setattr(runner, '_execute', execute_making_an_object)
    handed = stale_oid(proc)
    runner.run_job(proc.service, proc.tm, jobid, 0, 'w1')
    assert handed  # the first commit failed ("A different object ...")
    runner.fold(proc.service, proc.tm, 'w1')
    with testing.open_service(db, service._p_oid) as (_, _, fresh):
        job = fresh.jobs[jobid]
        assert job.status == COMPLETED and job.error is None
    assert _index_matches_jobs(db, service._p_oid) == []


class _Unstorable(persistent.Persistent):
    def __getstate__(self):
        raise RuntimeError('this object cannot be stored')


def test_a_job_whose_commit_fails_twice_is_an_error_and_the_index_holds(
        db, service, tasks, quiet, monkeypatch):
    jobid = service.add('echo', 'x')
    transaction.commit()
    proc = _processor(db, service)
    assert runner.claim(proc.service, proc.tm, 0, 5, 'w1') == [jobid]
    real_execute = runner._execute
    runs = []

    def execute_storing_the_unstorable(service, tm, jobid, now, owner):
        runs.append(jobid)
        real_execute(service, tm, jobid, now, owner)
        service.jobs[jobid].output = _Unstorable()
    monkeypatch.setattr(runner, '_execute', execute_storing_the_unstorable)
    runner.run_job(proc.service, proc.tm, jobid, 0, 'w1')
    assert runs == [jobid, jobid]
    runner.fold(proc.service, proc.tm, 'w1')
    with testing.open_service(db, service._p_oid) as (_, _, fresh):
        job = fresh.jobs[jobid]
        assert job.status == ERROR
        assert 'this object cannot be stored' in job.error
    assert _index_matches_jobs(db, service._p_oid) == []


@pytest.fixture
def quick_outages(monkeypatch):
    monkeypatch.setattr(storage, 'OUTAGE_BACK_OFF', 0.001)
    monkeypatch.setattr(storage, 'OUTAGE_BACK_OFF_MAX', 0.001)


class Unreachable:
    """Makes ``db``'s storage say it is disconnected for ``polls`` looks,
    as a ZEO client whose server is away."""

    def __init__(self, db, polls):
        self.db = db
        self.polls = polls

    @property
    def connected(self):
        return self.polls == 0

    def is_connected(self):
        if self.polls:
            self.polls -= 1
            return False
        return True

    def __enter__(self):
        self.db.storage.is_connected = self.is_connected
        return self

    def __exit__(self, *exc):
        del self.db.storage.is_connected


def test_an_outage_longer_than_the_conflict_budget_fails_no_job(
        db, service, tasks, caplog, quick_outages, monkeypatch):
    # While the storage is away, each attempt fails with ZEO's
    # ClientDisconnected (after its wait-timeout); the outage lasts for ten
    # times the conflict budget of looks at the storage.
    jobid = service.add('echo', 'x')
    transaction.commit()
    real_execute = runner._execute
    with Unreachable(db, 10 * transactions.CONFLICT_ATTEMPTS) as outage:
        def execute_during_an_outage(*args):
            if not outage.connected:
                raise ClientDisconnected('timed out waiting for connection')
            return real_execute(*args)
        monkeypatch.setattr(runner, '_execute', execute_during_an_outage)
        with caplog.at_level(logging.INFO, logger='zodbtasks'):
            assert service.process(0) == 1
    assert service.getStatus(jobid) == COMPLETED
    assert service.getResult(jobid) == 'x'
    messages = [r.getMessage() for r in caplog.records]
    assert [m for m in messages if 'storage is unavailable' in m] == [
        'w1: the storage is unavailable; waiting for it'.replace(
            'w1', processor.WORKER_ID)]
    assert len([m for m in messages if 'the storage is back' in m]) == 1


@pytest.fixture
def lose_a_reply(monkeypatch):
    """``arm()``: the next commit happens, and its reply is lost (as when
    a ZEO connection drops during tpc_finish)."""
    real_commit = transactions.commit
    armed = []

    def commit(tm):
        real_commit(tm)
        if armed:
            armed.clear()
            raise storage.StorageUnavailable('commit outcome unknown')
    monkeypatch.setattr(transactions, 'commit', commit)
    return armed.append


def test_a_job_whose_commit_reply_was_lost_does_not_run_again(
        db, service, tasks, lose_a_reply, monkeypatch, quick_outages):
    jobid = service.add('echo', 'x')
    transaction.commit()
    real_execute = runner._execute
    seen = []

    def counting_execute(service, tm, jobid, now, owner):
        seen.append(service.jobs[jobid].status)
        if len(seen) == 1:
            lose_a_reply(True)
        return real_execute(service, tm, jobid, now, owner)
    tm = runner.transaction_manager_of(service)
    assert runner.claim(service, tm, 0, 5, 'w1') == [jobid]
    monkeypatch.setattr(runner, '_execute', counting_execute)
    runner.run_job(service, tm, jobid, 0, 'w1')
    # It ran once; after the lost reply it was read again: completed.
    assert seen == [PROCESSING, COMPLETED]
    assert service.getStatus(jobid) == COMPLETED


def test_a_claim_whose_reply_was_lost_is_released_after_reconnecting(
        db, service, tasks, quiet, lose_a_reply, quick_outages,
        monkeypatch):
    ids = [service.add('echo', n) for n in range(3)]
    transaction.commit()
    proc = _processor(db, service)
    real_claim = Dispatch.claimJobs
    lost = []

    def claim_and_lose_the_reply(self, now, limit, owner, most=None):
        claimed = real_claim(self, now, limit, owner, most)
        if claimed and not lost:
            lost.extend(claimed)
            lose_a_reply(True)
        return claimed
    monkeypatch.setattr(Dispatch, 'claimJobs', claim_and_lose_the_reply)
    _iterate(proc)  # claims, loses the reply: the jobs are ours, unknown
    assert sorted(lost) == sorted(ids)
    _iterate(proc)  # gives them back, then claims and runs them
    with testing.open_service(db, service._p_oid) as (_, _, fresh):
        assert [fresh.jobs[jobid].status for jobid in ids] == [COMPLETED] * 3
        assert [fresh.jobs[jobid].attempts for jobid in ids] == [1] * 3
        assert [w['running'] for w in fresh.workers()] == [[]]


def test_worker_id_differs_in_a_forked_child():
    parent = workers.worker_id()
    assert workers.worker_id() == parent
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        try:
            os.write(write, workers.worker_id().encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child = pipe.read()
    os.waitpid(pid, 0)
    assert child and child != parent
    assert child.split(':')[1] == str(pid)
    assert parent.split(':')[1] == str(os.getpid())


def test_old_WORKER_ID_is_this_worker_id():
    assert processor.WORKER_ID == workers.worker_id()
    with pytest.raises(AttributeError):
        processor.NO_SUCH_NAME


def test_processors_started_in_a_forked_child_have_the_child_id(service):
    read, write = os.pipe()
    transaction.commit()
    pid = os.fork()
    if pid == 0:
        try:
            os.write(write, processor.Processor(
                None, b'', 'x').owner.encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        owner = pipe.read()
    os.waitpid(pid, 0)
    assert owner.split(':')[1] == str(pid)


def test_no_sweep_within_a_lease_of_a_reconnect(db, service, tasks):
    # After an outage longer than the lease, every worker's heartbeat is
    # old: a sweeper waits for the live ones to renew theirs.
    jobid = service.add('echo')
    transaction.commit()
    tm = runner.transaction_manager_of(service)
    assert runner.claim(service, tm, 0, 1, 'other') == [jobid]
    proc = _processor(db, service)
    now = 1000.0  # 'other' sent no heartbeat for 1000 s
    db.storage._zodbtasks_reconnected = time.monotonic()
    try:
        proc._sweep_now_and_then(now)
        proc.tm.begin()
        assert proc.service.jobs[jobid].owner == 'other'
        proc.tm.abort()
        db.storage._zodbtasks_reconnected -= service.leaseTimeout
        proc._sweep_now_and_then(now)
    finally:
        del db.storage._zodbtasks_reconnected
    proc.tm.begin()
    job = proc.service.jobs[jobid]
    assert job.status != PROCESSING
    assert job.error.startswith('worker lost: other')
    proc.tm.abort()


def test_wait_for_storage_returns_false_when_stopped(db):
    stop = threading.Event()
    with Unreachable(db, 2):
        stop.set()
        assert storage.wait_for_storage(db, 'w1', stop) is False


def test_guard_database_leaves_other_storages_alone(db):
    assert storage.guard_database(db) is False


def test_in_transaction_does_not_count_an_outage_as_a_conflict():
    calls = []

    def away():
        calls.append(1)
        raise ClientDisconnected('timed out waiting for connection')
    with pytest.raises(storage.StorageUnavailable) as info:
        transactions.in_transaction(transaction.TransactionManager(), away)
    assert calls == [1]
    assert isinstance(info.value.__cause__, ClientDisconnected)


def test_in_transaction_retries_conflicts(monkeypatch):
    monkeypatch.setattr(transactions, 'with_back_off', iter)
    calls = []

    def conflicting():
        calls.append(1)
        if len(calls) < 3:
            raise ConflictError('again')
        return 'done'
    assert transactions.in_transaction(
        transaction.TransactionManager(), conflicting) == 'done'
    assert len(calls) == 3


def test_a_commit_outcome_lost_with_the_connection_is_unavailable():
    tm = transaction.TransactionManager()
    tm.get().join(FailingResource(ClientDisconnected('during tpc_finish')))
    with pytest.raises(storage.StorageUnavailable,
                       match='commit outcome unknown'):
        transactions.commit(tm)


def test_a_commit_that_failed_otherwise_is_commit_failed():
    tm = transaction.TransactionManager()
    tm.get().join(FailingResource(ValueError('A different object')))
    with pytest.raises(storage.CommitFailed,
                       match='ValueError: A different object'):
        transactions.commit(tm)


class FailingResource:
    """A data manager whose tpc_finish raises ``error``."""

    def __init__(self, error):
        self.error = error

    def sortKey(self):
        return 'failing'

    def tpc_finish(self, txn):
        raise self.error

    def abort(self, txn):
        pass

    tpc_begin = commit = tpc_vote = tpc_abort = abort


def test_database_driver_disconnections_are_outages():
    psycopg2 = pytest.importorskip('psycopg2')
    assert storage.is_unavailable(psycopg2.OperationalError('server closed'))
    assert storage.is_unavailable(psycopg2.InterfaceError('closed'))
    assert not storage.is_unavailable(psycopg2.ProgrammingError('syntax'))
    assert not storage.is_unavailable(ValueError('x'))
    assert not storage.is_conflict(psycopg2.OperationalError('gone'))


def test_an_outage_when_a_transaction_begins_is_an_outage():
    psycopg2 = pytest.importorskip('psycopg2')
    from zodbtasks.transactions import in_transaction

    class Polling(transaction.TransactionManager):
        """begin() polls the storage, as RelStorage's connections do."""
        def begin(self):
            raise psycopg2.OperationalError('server closed the connection')
    with pytest.raises(storage.StorageUnavailable, match='server closed'):
        in_transaction(Polling(), lambda: None)


def test_only_zeo_clients_are_waited_for(db):
    assert not storage.can_wait(db)       # FileStorage: never away
    assert storage.watches_commits(db)
