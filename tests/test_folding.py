"""Who folds (zodbtasks.folding): a worker that does not hold the fold
lease defers its plain claims and leaves its plain ends to the holder;
prompt jobs are folded by their own worker; the lease passes on."""
import pytest
import transaction

from zodbtasks import folding
from zodbtasks import testing
from zodbtasks.dispatch import Dispatch
from zodbtasks.interfaces import COMPLETED
from zodbtasks.interfaces import PROCESSING
from zodbtasks.interfaces import QUEUED


@pytest.fixture
def noted(service):
    ran = []
    testing.register_task('note', ran.append)
    return ran


def _two_workers(service, count=40):
    """``count`` jobs; w1 holds the lease, w2 is live and does not."""
    ids = [service.add('note', n, now=100.0) for n in range(count)]
    dispatch = Dispatch(service)
    assert len(dispatch.claimJobs(100.0, 1, 'w2')) == 1    # alone
    assert len(dispatch.claimJobs(100.0, 1, 'w1')) == 1    # takes it
    assert service._fold_lease.owner == 'w1'
    return ids, dispatch


def test_a_worker_without_the_lease_defers_its_plain_claims(service, noted):
    ids, dispatch = _two_workers(service)
    before = service.countByStatus()
    claimed = dispatch.claimJobs(100.1, 5, 'w2')
    assert [service.getStatus(j) for j in claimed] == [PROCESSING] * 5
    assert service.countByStatus() == before       # the index waits
    assert sorted(folding.claims_of(service._workers['w2'])) == sorted(
        claimed)
    assert service.checkIndex() == []               # and that is right
    dispatch.claimJobs(100.2, 0, 'w1')              # the holder folds
    counts = service.countByStatus()
    assert counts[PROCESSING] == before[PROCESSING] + 5
    assert counts[QUEUED] == before[QUEUED] - 5
    assert folding.claims_of(service._workers['w2']) == []
    assert service.checkIndex() == []


def test_the_holder_folds_the_plain_ends_of_others(service, noted):
    ids, dispatch = _two_workers(service)
    claimed = dispatch.claimJobs(100.1, 3, 'w2')
    for jobid in claimed:
        dispatch.finishJob(jobid, 100.15)
    assert dispatch.foldJobs('w2', 100.16) == 0     # not the holder's
    completed = service.countByStatus()[COMPLETED]
    assert service.checkIndex() == []
    dispatch.claimJobs(100.5, 0, 'w1')
    assert service.countByStatus()[COMPLETED] == completed + 3
    assert service.checkIndex() == []
    record = service._workers['w2']
    assert all(jobid in record.jobs for jobid in claimed)  # until w2 prunes
    dispatch.claimJobs(100.6, 0, 'w2')
    assert not any(jobid in record.jobs for jobid in claimed)
    assert service.checkIndex() == []


def test_the_holder_folds_others_at_most_every_interval(service, noted):
    ids, dispatch = _two_workers(service)
    [first] = dispatch.claimJobs(100.1, 1, 'w2')
    dispatch.finishJob(first, 100.1)
    dispatch.claimJobs(100.2, 0, 'w1')               # folds it
    [second] = dispatch.claimJobs(100.25, 1, 'w2')
    dispatch.finishJob(second, 100.25)
    dispatch.claimJobs(100.3, 0, 'w1')               # too soon
    assert service._index.by_status.count(COMPLETED) == 1
    assert dispatch.nextFoldTime('w1', 100.3) == pytest.approx(
        100.2 + folding.FOLD_INTERVAL)
    dispatch.claimJobs(100.2 + folding.FOLD_INTERVAL, 0, 'w1')
    assert service._index.by_status.count(COMPLETED) == 2


def test_prompt_jobs_are_folded_by_their_own_worker(service, noted):
    ids, dispatch = _two_workers(service)
    blocker = service.add('note', 'blocker', now=99.0)
    waiter = service.add('note', 'waits', after=blocker, now=99.0)
    assert dispatch.claimJobs(100.1, 1, 'w2') == [blocker]
    assert service.jobs[blocker].watched
    dispatch.finishJob(blocker, 100.2)
    dispatch.foldJobs('w2', 100.2)                  # no lease: prompt only
    assert service.getStatus(waiter) == QUEUED      # released at once
    assert service.checkIndex() == []


def test_the_lease_passes_on_when_its_holder_stops_folding(service, noted):
    ids, dispatch = _two_workers(service)
    later = 100.0 + folding.FOLD_LEASE + 0.5
    claimed = dispatch.claimJobs(later, 2, 'w2')    # w1 is silent
    assert service._fold_lease.owner == 'w2'
    assert not folding.claims_of(service._workers['w2'])
    assert service.countByStatus()[PROCESSING] >= 2
    assert all(service.getStatus(j) == PROCESSING for j in claimed)
    assert service.checkIndex() == []


def test_a_deferred_claim_is_indexed_before_it_is_released_or_cancelled(
        service, noted):
    ids, dispatch = _two_workers(service)
    one, two = dispatch.claimJobs(100.1, 2, 'w2')
    assert dispatch.releaseJob(one)
    assert service.getStatus(one) == QUEUED
    assert service.cancel(two)                      # asks it to stop
    assert service.checkIndex() == []
    assert service.countByStatus()[PROCESSING] == 2 + 1  # the first two


def test_a_waiting_non_holder_looks_again_when_the_lease_ends(service,
                                                             noted):
    ids, dispatch = _two_workers(service)
    [jobid] = dispatch.claimJobs(100.1, 1, 'w2')
    assert dispatch.nextFoldTime('w2', 100.1) == service._fold_lease.until
    assert dispatch.nextFoldTime('w1', 100.1) == pytest.approx(
        service._fold_lease.last + folding.FOLD_INTERVAL)


def test_idle_workers_write_nothing(service, noted, conn):
    ids, dispatch = _two_workers(service, count=2)
    transaction.commit()
    for owner, now in (('w1', 100.1), ('w2', 100.1)):
        dispatch.claimJobs(now, 5, owner)
    transaction.commit()
    for owner in ('w1', 'w2', 'w1'):
        dispatch.claimJobs(100.15, 5, owner)
        assert not conn._registered_objects, owner
