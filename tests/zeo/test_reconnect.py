"""A ZEO client across a server restart: the object ids it fetched
before, and a claim whose commit reply was lost (a real runzeo, the
processor in this process)."""
import logging

import pytest
import ZEO
from ZEO.Exceptions import ClientDisconnected

from zodbtasks import processor
from zodbtasks import storage
from zodbtasks.interfaces import COMPLETED

from .conftest import DEADLINE
from .conftest import wait_for
from .consistency import index_mismatches


def _reconnected(db):
    wait_for(db.storage.is_connected, DEADLINE, 'the client did not '
             'reconnect')


@pytest.fixture
def open_client(zeo_server):
    opened = []

    def open_client():
        db = ZEO.DB(zeo_server.address, wait_timeout=DEADLINE)
        opened.append(db)
        return db
    yield open_client
    for db in opened:
        db.close()


def _oids_after_a_restart(zeo_server, open_client, guard):
    """Oids of a client that fetched some before the server restarted, and
    of a client that connected after."""
    before = open_client()
    if guard:
        assert storage.guard_database(before)
    before.storage.new_oid()  # fetches a batch, hands out one
    zeo_server.restart()
    _reconnected(before)
    after = open_client()
    theirs = {after.storage.new_oid() for _ in range(5)}
    ours = {before.storage.new_oid() for _ in range(5)}
    return ours, theirs


@pytest.mark.slow
def test_upstream_a_reconnected_client_hands_out_oids_again(
        zeo_server, open_client):
    # What ZEO does (see zodbtasks.storage): if this fails, ZEO stopped
    # doing it and the guard can go.
    ours, theirs = _oids_after_a_restart(zeo_server, open_client, False)
    assert ours & theirs


@pytest.mark.slow
def test_a_guarded_client_forgets_the_oids_it_fetched_before_a_restart(
        zeo_server, open_client):
    ours, theirs = _oids_after_a_restart(zeo_server, open_client, True)
    assert not ours & theirs


@pytest.mark.slow
def test_a_guarded_client_knows_when_it_reconnected(zeo_server, zeo_db):
    storage.guard_database(zeo_db)
    assert not storage.reconnected_within(zeo_db, DEADLINE)
    zeo_server.restart()
    _reconnected(zeo_db)
    assert storage.reconnected_within(zeo_db, DEADLINE)


def test_guard_database_is_idempotent(zeo_db):
    assert storage.guard_database(zeo_db)
    guarded = zeo_db.storage.new_oid
    assert storage.guard_database(zeo_db)
    assert zeo_db.storage.new_oid is guarded


@pytest.fixture
def lost_reply(zeo_db, zeo_server):
    """``arm()``: the next commit of this process's ZEO client finishes on
    the server, then the connection drops (the server restarts) before
    the client heard back: it raises ClientDisconnected."""
    client = zeo_db.storage
    tpc_finish = client.tpc_finish
    armed = []

    def finish_then_drop(txn, f=lambda tid: None):
        if not armed:
            return tpc_finish(txn, f)
        armed.clear()
        tpc_finish(txn, f)
        zeo_server.restart()
        raise ClientDisconnected('connection lost during tpc_finish')
    client.tpc_finish = finish_then_drop
    yield lambda: armed.append(True)
    del client.tpc_finish


@pytest.mark.slow
def test_a_claim_whose_reply_was_lost_runs_under_its_live_worker(
        zeo_db, zeo_service, lost_reply, caplog):
    ids = zeo_service.add_counted(3)
    lost_reply()  # the next commit is the processor's claim
    with caplog.at_level(logging.INFO, logger='zodbtasks'):
        [proc] = processor.start(zeo_service.service)
        try:
            jobs = zeo_service.wait_finished(ids, 2 * DEADLINE)
        finally:
            processor.stop(zeo_service.service)
            proc.join(DEADLINE)
    assert [job.status for job in jobs] == [COMPLETED] * 3
    assert [job.input['value'] for job in jobs] == [1] * 3
    assert [job.attempts for job in jobs] == [1] * 3
    messages = [r.getMessage() for r in caplog.records]
    assert 'processor %s released 3 jobs it could not run' % proc.name \
        in messages
    service = zeo_service.fresh()
    assert service.workers() == []
    assert index_mismatches(service) == []
