"""checkIndex() and rebuildIndex(): the indexes checked against the jobs,
and rebuilt from them in bounded transactions."""
import pytest
import transaction

from zodbtasks import interfaces
from zodbtasks import reindex
from zodbtasks import service as service_module
from zodbtasks.dispatch import Dispatch
from zodbtasks.interfaces import COMPLETED
from zodbtasks.interfaces import ERROR
from zodbtasks.interfaces import PROCESSING
from zodbtasks.interfaces import QUEUED
from zodbtasks.interfaces import STARTLATER
from zodbtasks import runner
from zodbtasks.transactions import own_connection


@pytest.fixture
def busy(service, tasks, quiet):
    """Jobs in most states: done, failed, queued, start-later, a cron
    job scheduled, one running under worker w1 and one it finished but
    has not folded."""
    ids = {'done': service.add('echo', 1), 'failed': service.add('fail', 2)}
    transaction.commit()
    service.process(now=100.0)
    ids['queued'] = service.add('echo', 3)
    ids['later'] = service.add('echo', 4, startLater=True)
    ids['cron'] = service.addCronJob('echo', minute=(5,))
    ids['running'] = service.add('echo', 5)
    ids['unfolded'] = service.add('echo', 6)
    transaction.commit()
    tm = runner.transaction_manager_of(service)
    # the cron job gets scheduled, 'queued' is claimed and handed back
    claimed = runner.claim(service, tm, 200.0, 10, 'w1')
    runner.release(service, tm, [ids['queued']])
    runner.run_job(service, tm, ids['unfolded'], 201.0, 'w1')
    assert set(claimed) == {ids['queued'], ids['running'], ids['unfolded']}
    transaction.begin()
    return ids


def test_a_consistent_service_has_no_problems(service, busy):
    assert service.getStatus(busy['unfolded']) == COMPLETED  # unfolded
    assert service.getStatus(busy['running']) == PROCESSING
    assert service.checkIndex() == []
    assert service.rebuildIndex() == []


def test_an_empty_service_has_no_problems(service):
    assert service.checkIndex() == []


def test_a_finished_job_missing_from_its_status_set_is_found_and_fixed(
        service, busy):
    # What the ZEO restart did: the fold's write to the status set and
    # the counts went to a detached bucket and was lost.
    index = service._index
    index.by_status.remove(COMPLETED, busy['done'])
    transaction.commit()
    assert service.countByStatus()[COMPLETED] == 0
    problems = service.checkIndex()
    assert problems == ['job %d: missing from the completed set'
                        % busy['done']]
    assert service.rebuildIndex() == problems
    assert service.checkIndex() == []
    assert service.countByStatus()[COMPLETED] == 1
    assert busy['done'] in list(service.jobIdsByStatus(COMPLETED))
    assert service.clean() == 2  # done and failed are reachable again


def test_a_job_in_two_status_sets_is_fixed(service, busy):
    service._index.by_status.add(QUEUED, busy['failed'])
    transaction.commit()
    problems = service.checkIndex()
    assert problems == ['job %d: listed as queued but is error'
                        % busy['failed'], 'status entry (%r, %d) matches '
                        'no job' % (QUEUED, busy['failed'])]
    service.rebuildIndex()
    assert service.checkIndex() == []
    # w1 claimed several at once, so its claims wait for a fold: the
    # index lists them as queued until then (zodbtasks.folding)
    assert list(service.jobIdsByStatus(QUEUED)) == sorted(
        [busy['queued'], busy['running'], busy['unfolded']])


def test_entries_of_jobs_that_are_gone_are_removed(service, busy):
    ghost = 12345
    index = service._index
    index.by_status.add(ERROR, ghost)
    index.by_task.add('echo', ghost)
    index.completed.add((99.0, ghost))
    service._queue.put(ghost)
    service._schedule[(500.0, ghost)] = ghost
    transaction.commit()
    problems = service.checkIndex()
    assert len(problems) == 5
    assert all('matches no job' in problem for problem in problems)
    service.rebuildIndex()
    assert service.checkIndex() == []
    assert service.countByStatus()[ERROR] == 1
    assert service.nextScheduledTime() != 500.0


def test_a_queued_job_lost_from_the_queue_is_queued_again(service, busy):
    job = service.jobs[busy['queued']]
    service._queue.remove(job.queueKey)
    transaction.commit()
    [problem] = service.checkIndex()
    assert 'queue entry' in problem
    service.rebuildIndex()
    assert service.checkIndex() == []
    assert service.process(now=250.0) == 1
    assert service.getStatus(busy['queued']) == COMPLETED


def test_a_cron_job_lost_from_the_schedule_is_scheduled_again(service,
                                                              busy):
    job = service.jobs[busy['cron']]
    del service._schedule[(job.scheduledFor, job.id)]
    transaction.commit()
    [problem] = service.checkIndex()
    assert 'schedule entry' in problem
    service.rebuildIndex()
    assert service.checkIndex() == []
    assert service.nextScheduledTime() == job.scheduledFor


def test_wrong_counts_are_fixed(service, busy):
    service._index.by_status.counts.change(STARTLATER, 5)
    service._index.by_task.counts.change('echo', -2)
    transaction.commit()
    assert len(service.checkIndex()) == 2
    service.rebuildIndex()
    assert service.checkIndex() == []
    assert service.countByStatus()[STARTLATER] == 1


def test_a_running_job_without_a_worker_record_is_handed_to_the_sweeper(
        service, busy):
    del service._workers['w1']  # folds nothing: 'unfolded' is lost too
    transaction.commit()
    problems = service.checkIndex()
    assert any('worker record does not list it' in p for p in problems)
    service.rebuildIndex()
    assert service.checkIndex() == []
    # the recreated record has no heartbeat: the sweeper retries the job
    with runner.transaction_manager_of(service):
        assert service.sweep(now=1000.0) == 1
    assert service.getStatus(busy['running']) == QUEUED


def test_rebuild_runs_in_bounded_transactions(service, tasks, monkeypatch):
    monkeypatch.setattr(service_module, 'BATCH_SIZE', 3)
    ids = [service.add('echo', n) for n in range(10)]
    transaction.commit()
    for jobid in ids:
        service._index.by_status.remove(QUEUED, jobid)
    transaction.commit()
    db = service._p_jar.db()
    before = db.lastTransaction()
    assert len(service.rebuildIndex()) == 10
    commits = [t for t in db.storage.iterator(before) if t.tid != before]
    assert len(commits) >= 4  # 10 jobs in batches of 3
    assert service.checkIndex() == []


def test_rebuild_refuses_pending_changes(service, tasks):
    service.add('echo')
    with pytest.raises(interfaces.PendingChangesError):
        service.rebuildIndex()


def test_check_and_rebuild_report_the_same_lines(service, busy):
    service._index.by_status.remove(ERROR, busy['failed'])
    service._index.started.remove(
        (service.jobs[busy['done']].started, busy['done']))
    transaction.commit()
    found = service.checkIndex()
    assert len(found) == 2
    assert service.rebuildIndex() == found


def test_rebuild_while_a_worker_claims_is_safe(service, tasks, monkeypatch):
    """A claim committed by another connection between two batches is
    neither undone nor counted twice."""
    ids = [service.add('echo', n) for n in range(6)]
    transaction.commit()
    for jobid in ids:
        service._index.by_status.remove(QUEUED, jobid)
    transaction.commit()
    monkeypatch.setattr(service_module, 'BATCH_SIZE', 2)
    real_step = reindex._repair_jobs
    claimed = []

    def step(maps, cursor, batch, repair):
        if cursor is not None and not claimed:
            db = service._p_jar.db()
            with own_connection(db) as (conn, tm):
                with tm:
                    claimed.extend(Dispatch(conn.get(service._p_oid))
                                   .claimJobs(100.0, 1, 'w2'))
        return real_step(maps, cursor, batch, repair)
    monkeypatch.setattr(reindex, '_repair_jobs', step)
    service.rebuildIndex()
    assert claimed and service.checkIndex() == []
    assert service.countByStatus()[PROCESSING] == 1
    assert service.countByStatus()[QUEUED] == 5


def test_unique_keys_are_checked_and_rebuilt(service, tasks):
    held = service.add('echo', uniqueKey='held')
    done = service.add('echo', uniqueKey='done')
    service.cancel(done)                  # its key is free again
    transaction.commit()
    assert service.checkIndex() == []
    service._unique['stale'] = done       # an entry of a finished job
    service._unique.pop('held')           # a waiting job lost its entry
    transaction.commit()
    problems = service.checkIndex()
    assert sorted(problems) == sorted([
        "job %d: waits but does not hold its unique key 'held'" % held,
        "unique key entry 'stale' matches no job"])
    service.rebuildIndex()
    assert service.checkIndex() == []
    assert service.findUnique('held') == held
    assert service.findUnique('stale') is None
