"""zodbtasks.bulk: bulk actions as chunked jobs of the service itself."""
import pytest
import transaction

from zodbtasks import bulk
from zodbtasks import testing
from zodbtasks.interfaces import ITask
from zodbtasks.search import SelectorError
from zope.interface.verify import verifyObject

T0 = 1_700_000_000.0


@pytest.fixture
def bulk_task(tasks):
    testing.register_task(bulk.BULK_TASK, bulk.BULK)


@pytest.fixture
def failed(service, bulk_task):
    """12 failed jobs (fail) and 3 completed (echo)."""
    ids = [service.add('fail', n, now=T0 + n) for n in range(12)]
    done = [service.add('echo', n, now=T0 + 100 + n) for n in range(3)]
    transaction.commit()
    service.process(now=T0 + 200)
    transaction.begin()
    return ids, done


def _run_bulk(service, jobid):
    """Run the bulk job (only it is queued) and see what it committed."""
    assert service.processNext(now=T0 + 300)
    transaction.begin()
    return service.jobs[jobid]


def test_the_task_provides_itask():
    assert verifyObject(ITask, bulk.BULK)


def test_count_from_the_index_counts(service, failed):
    assert bulk.countMatching(service, {'status': 'error'}) == (12, True)


def test_count_of_a_search(service, failed):
    assert bulk.countMatching(service, {
        'status': 'error', 'created_to': T0 + 5}) == (6, True)
    assert bulk.countMatching(service, {'created_from': T0}, limit=4) \
        == (4, False)


def test_start_checks_action_and_selector(service, failed):
    with pytest.raises(ValueError):
        bulk.startBulk(service, 'explode', {})
    with pytest.raises(SelectorError):
        bulk.startBulk(service, 'retry', {'status': 'nope'})


def test_retry_in_chunks_with_progress(service, failed, monkeypatch):
    ids, done = failed
    monkeypatch.setattr(bulk, 'CHUNK_SIZE', 5)
    jobid = bulk.startBulk(service, 'retry', {'status': 'error'},
                           now=T0 + 250)
    transaction.commit()
    job = service.jobs[jobid]
    assert job.task == bulk.BULK_TASK
    assert job.input['expected'] == 12 and job.input['exact']
    job = _run_bulk(service, jobid)
    assert job.status == 'completed', job.error
    assert job.output['changed'] == 12 and job.output['skipped'] == 0
    assert all(service.jobs[i].status == 'queued' for i in ids)
    assert service.getProgress(jobid) == (
        1.0, '12 jobs queued again, 0 left as they were')


def test_chunks_commit_on_their_own(service, failed, monkeypatch):
    """Each chunk is committed by itself: a chunk seen from another
    connection while the bulk job's transaction is still open."""
    ids, _ = failed
    monkeypatch.setattr(bulk, 'CHUNK_SIZE', 5)
    seen = []
    real = bulk.run_chunk

    def watching(*args, **kw):
        result = real(*args, **kw)
        seen.append(result[:2])
        return result
    monkeypatch.setattr(bulk, 'run_chunk', watching)
    jobid = bulk.startBulk(service, 'delete', {'status': 'error'})
    transaction.commit()
    _run_bulk(service, jobid)
    assert seen == [(5, 0), (5, 0), (2, 0)]
    assert not any(i in service.jobs for i in ids)


def test_never_acts_on_bulk_jobs(service, failed):
    other = bulk.startBulk(service, 'retry', {'status': 'error'})
    transaction.commit()
    jobid = bulk.startBulk(service, 'cancel', {'status': 'queued'})
    transaction.commit()
    assert service.jobs[jobid].input['expected'] == 1
    result = bulk.BULK(service, jobid, service.jobs[jobid].input)
    transaction.begin()
    assert service.jobs[other].status == 'queued'
    assert result['changed'] == 0 and result['skipped'] == 2


def test_cancel_skips_itself_and_counts(service, bulk_task):
    waiting = [service.add('echo', n, now=T0 + n) for n in range(4)]
    transaction.commit()
    jobid = bulk.startBulk(service, 'cancel', {'status': 'queued'})
    transaction.commit()
    # the waiting jobs are older: run the bulk job alone
    job = service.jobs[jobid]
    bulk.BULK(service, jobid, job.input)
    transaction.begin()
    assert [service.jobs[i].status for i in waiting] == ['cancelled'] * 4
    assert service.jobs[jobid].status == 'queued'


def test_requeue_runs_start_later_and_delayed_jobs_now(service, bulk_task):
    later = service.add('echo', 1, startLater=True, now=T0)
    delayed = service.add('echo', 2, at=T0 + 86400, now=T0)
    cron = service.addCronJob('echo', 3, delay=3600, now=T0)
    transaction.commit()
    result = bulk.BULK(service, 0, {'action': 'requeue', 'selector': {
        'created_from': T0 - 1}})
    transaction.begin()
    assert service.jobs[later].status == 'queued'
    assert service.jobs[delayed].status == 'queued'
    assert service.jobs[delayed].scheduledFor is None
    assert service.jobs[cron].status == 'delayed'
    assert result['changed'] == 2 and result['skipped'] == 1
    assert service.process(now=T0 + 1) == 2


def test_text_selector(service, failed):
    ids, done = failed
    jobid = bulk.startBulk(service, 'delete', {'text': 'with 7'})
    transaction.commit()
    job = _run_bulk(service, jobid)
    assert job.output['changed'] == 1
    assert ids[7] not in service.jobs and ids[6] in service.jobs


def test_cancel_of_the_bulk_job_stops_it_at_a_chunk(service, failed,
                                                    monkeypatch):
    ids, _ = failed
    monkeypatch.setattr(bulk, 'CHUNK_SIZE', 5)
    calls = []

    def cancelling(service, jobid, fraction, message=None):
        calls.append(fraction)
        from zodbtasks.interfaces import JobCancelled
        raise JobCancelled('cancelled while running by test')
    monkeypatch.setattr(bulk, 'reportProgress', cancelling)
    jobid = bulk.startBulk(service, 'retry', {'status': 'error'})
    transaction.commit()
    job = _run_bulk(service, jobid)
    assert job.status == 'cancelled' and len(calls) == 1
    # the first chunk stays done
    assert sum(service.jobs[i].status == 'queued' for i in ids) == 5


def test_fraction_done_by_ids(service, failed):
    ids, done = failed
    selector = {'created_from': T0, 'created_to': T0 + 102}
    assert bulk.fraction_done(service, selector, None) == 1.0
    assert bulk.fraction_done(service, selector, done[-1]) == 0.0
    middle = bulk.fraction_done(service, selector, ids[6])
    assert 0.0 < middle < 1.0


def test_a_tiny_budget_still_walks_everything(service, failed, monkeypatch):
    """Chunks that run out of index steps before they find a match
    continue where they stopped (two sets: the leapfrog's jumps)."""
    ids, done = failed
    monkeypatch.setattr(bulk, 'CHUNK_BUDGET', 2)
    result = bulk.BULK(service, 0, {'action': 'delete', 'selector': {
        'status': 'completed', 'task': 'echo', 'created_from': T0}})
    transaction.begin()
    assert result['changed'] == 3
    assert not any(i in service.jobs for i in done)
    assert all(i in service.jobs for i in ids)


def test_a_chunk_that_conflicts_is_done_again(service, failed, db,
                                               monkeypatch):
    """Another connection retries a job after the chunk's transaction
    began: the chunk's commit conflicts, it runs again on what was
    committed, and that job is left as it now is."""
    ids, _ = failed
    real, calls = bulk.run_chunk, []

    def racing(chunk_service, *args, **kw):
        calls.append(1)
        if len(calls) == 1:
            other_tm = transaction.TransactionManager()
            other = db.open(transaction_manager=other_tm)
            try:
                other.get(service._p_oid).retry(ids[3])
                other_tm.commit()
            finally:
                other.close()
        return real(chunk_service, *args, **kw)
    monkeypatch.setattr(bulk, 'run_chunk', racing)
    jobid = bulk.startBulk(service, 'retry', {'status': 'error'})
    transaction.commit()
    job = _run_bulk(service, jobid)
    assert len(calls) == 2
    assert job.output['changed'] == 11 and job.output['skipped'] == 0
    assert all(service.jobs[i].status == 'queued' for i in ids)


def test_an_error_group_needs_the_failures_module(service, failed,
                                                  monkeypatch):
    from zodbtasks import search
    monkeypatch.setattr(search, 'group_key_function', lambda: None)
    with pytest.raises(SelectorError) as info:
        bulk.startBulk(service, 'retry', {'status': 'error',
                                          'error_group': 'g1'})
    assert info.value.field == 'error_group'


def test_retry_an_error_group(service, failed, monkeypatch):
    from zodbtasks import search
    ids, _ = failed
    monkeypatch.setattr(search, 'group_key_function', lambda: (
        lambda job: 'even' if job.input % 2 == 0 else 'odd'))
    jobid = bulk.startBulk(service, 'retry', {'status': 'error',
                                              'error_group': 'odd'})
    transaction.commit()
    assert service.jobs[jobid].input['expected'] == 6
    job = _run_bulk(service, jobid)
    assert job.output['changed'] == 6
    assert [service.jobs[i].status for i in ids] == ['error', 'queued'] * 6
