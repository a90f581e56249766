"""Who folds (zodbtasks.folding): while other workers hold jobs, a worker
defers its plain claims and leaves its plain ends to the holder of the
fold lease, which indexes everyone's in a transaction of its own every
FOLD_INTERVAL; prompt jobs are folded by their own worker; the lease
passes on; a lone worker folds its plain ends together."""
import pytest
import transaction

from zodbtasks import folding
from zodbtasks import testing
from zodbtasks.dispatch import Dispatch
from zodbtasks.index import JobIndex
from zodbtasks.interfaces import COMPLETED
from zodbtasks.interfaces import PROCESSING
from zodbtasks.interfaces import QUEUED

INTERVAL = folding.FOLD_INTERVAL


@pytest.fixture
def noted(service):
    ran = []
    testing.register_task('note', ran.append)
    return ran


def _two_workers(service, count=40):
    """``count`` jobs; w1 and w2 are live and hold one job each; w1
    holds the fold lease."""
    ids = [service.add('note', n, now=100.0) for n in range(count)]
    dispatch = Dispatch(service)
    assert len(dispatch.claimJobs(100.0, 1, 'w1')) == 1     # alone
    assert len(dispatch.claimJobs(100.0, 1, 'w2')) == 1     # deferred
    assert dispatch.foldAll('w1', 100.0) == 1               # takes it
    assert service._fold_lease.owner == 'w1'
    return ids, dispatch


def test_a_worker_that_is_not_alone_defers_its_plain_claims(service, noted):
    ids, dispatch = _two_workers(service)
    before = service.countByStatus()
    claimed = dispatch.claimJobs(100.1, 5, 'w2')
    assert [service.getStatus(j) for j in claimed] == [PROCESSING] * 5
    index = service._index.count_by_status()
    assert (index[QUEUED], index[PROCESSING]) == (
        before[QUEUED], before[PROCESSING])         # the index waits
    counts = service.countByStatus()                # the counts do not
    assert (counts[QUEUED], counts[PROCESSING]) == (
        before[QUEUED] - 5, before[PROCESSING] + 5)
    assert sorted(folding.claims_of(service._workers['w2'])) == sorted(
        claimed)
    assert service.checkIndex() == []                # and that is right
    assert dispatch.foldAll('w2', 100.1 + INTERVAL) == 0   # not the holder
    assert dispatch.foldAll('w1', 100.1 + INTERVAL) == 5
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
    assert dispatch.foldJobs('w2', 100.16) == 0      # not its own to fold
    completed = service.countByStatus()[COMPLETED]
    assert service.checkIndex() == []
    assert dispatch.foldAll('w1', 100.5) == 6        # 3 claims, 3 ends
    assert service.countByStatus()[COMPLETED] == completed + 3
    assert service.checkIndex() == []
    record = service._workers['w2']
    assert all(jobid in record.jobs for jobid in claimed)  # until w2 prunes
    dispatch.claimJobs(100.6, 0, 'w2')
    assert not any(jobid in record.jobs for jobid in claimed)
    assert service.checkIndex() == []


def test_the_holder_folds_at_most_every_interval(service, noted):
    ids, dispatch = _two_workers(service)
    dispatch.claimJobs(100.05, 1, 'w2')
    assert dispatch.foldAll('w1', 100.1) == 0         # too soon
    assert dispatch.nextFoldTime('w1', 100.1) == pytest.approx(
        100.0 + INTERVAL)
    assert dispatch.foldAll('w1', 100.0 + INTERVAL) == 1


def test_prompt_jobs_are_claimed_indexed_and_folded_by_their_worker(
        service, noted):
    ids, dispatch = _two_workers(service)
    # more than shards.TOLERANCE before the others: w2 takes it first,
    # whichever shard it is in
    blocker = service.add('note', 'blocker', now=97.0)
    waiter = service.add('note', 'waits', after=blocker, now=97.0)
    assert dispatch.claimJobs(100.1, 1, 'w2') == [blocker]
    assert service.jobs[blocker].watched
    assert not folding.claims_of(service._workers['w2'])   # indexed
    dispatch.finishJob(blocker, 100.2)
    dispatch.foldJobs('w2', 100.2)                  # prompt: its own
    assert service.getStatus(waiter) == QUEUED      # released at once
    assert service.checkIndex() == []


def test_the_lease_passes_on_when_its_holder_stops_folding(service, noted):
    ids, dispatch = _two_workers(service)
    claimed = dispatch.claimJobs(100.1, 2, 'w2')
    assert dispatch.foldAll('w2', 100.5) == 0        # w1 holds it
    assert dispatch.nextFoldTime('w2', 100.5) == service._fold_lease.until
    later = service._fold_lease.until
    assert dispatch.foldAll('w2', later) == 2        # w1 went silent
    assert service._fold_lease.owner == 'w2'
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
    assert service.countByStatus()[PROCESSING] == 2 + 1


def test_a_lone_worker_folds_its_plain_ends_together(service, noted):
    ids = [service.add('note', n, now=100.0) for n in range(3)]
    dispatch = Dispatch(service)
    for number, jobid in enumerate(ids):
        now = 100.0 + number * 0.05
        assert dispatch.claimJobs(now, 1, 'w1') == [jobid]
        dispatch.finishJob(jobid, now)
    assert service.countByStatus()[COMPLETED] == 0  # waiting together
    assert dispatch.nextFoldTime('w1', 100.1) == pytest.approx(
        100.0 + 2 * INTERVAL)
    assert dispatch.foldAll('w1', 100.1) == 0       # alone: not its way
    dispatch.claimJobs(100.0 + INTERVAL, 1, 'w1')   # claims nothing
    assert service.countByStatus()[COMPLETED] == 0
    dispatch.claimJobs(100.0 + 2 * INTERVAL, 1, 'w1')
    assert service.countByStatus()[COMPLETED] == 3
    assert service.checkIndex() == []


def test_idle_workers_write_nothing(service, noted, conn):
    ids, dispatch = _two_workers(service, count=2)
    transaction.commit()
    dispatch.foldAll('w1', 100.0 + INTERVAL)
    transaction.commit()
    for owner in ('w1', 'w2', 'w1'):
        dispatch.claimJobs(100.3, 5, owner)
        dispatch.foldAll(owner, 100.0 + 2 * INTERVAL)
        assert not conn._registered_objects, owner


def test_a_lone_workers_next_claim_folds_what_is_due(service, noted):
    """One job per transaction, taken at once: the claim of the next job
    folds the ends that are due, so no fold needs a commit of its own."""
    dispatch = Dispatch(service)
    first = service.add('note', 1, now=100.0)
    assert dispatch.claimJobs(100.0, 1, 'w1') == [first]
    dispatch.finishJob(first, 100.0)
    second = service.add('note', 2, now=100.0 + INTERVAL)
    assert dispatch.claimJobs(100.0 + INTERVAL, 1, 'w1') == [second]
    counts = service.countByStatus()
    assert (counts[COMPLETED], counts[PROCESSING]) == (1, 1)
    assert service.checkIndex() == []


def test_a_lone_worker_claiming_several_defers_its_plain_claims(
        service, noted, monkeypatch):
    """Claims of more than one job at a time (the worker's jobs are quick)
    wait for the fold, which moves each finished job straight from queued
    to its end."""
    ids = [service.add('note', n, now=100.0) for n in range(3)]
    dispatch = Dispatch(service)
    assert dispatch.claimJobs(100.0, 5, 'w1') == ids
    index = service._index.count_by_status()
    assert (index[QUEUED], index[PROCESSING]) == (3, 0)    # deferred
    counts = service.countByStatus()
    assert (counts[QUEUED], counts[PROCESSING]) == (0, 3)
    assert service.checkIndex() == []
    moves = []
    real_move = JobIndex.move
    monkeypatch.setattr(JobIndex, 'move', lambda self, *args: (
        moves.append(args[1:]), real_move(self, *args)))
    for jobid in ids:
        dispatch.finishJob(jobid, 100.05)
    dispatch.claimJobs(100.05 + 2 * INTERVAL, 5, 'w1')  # idle: folds them
    assert moves == [(QUEUED, COMPLETED)] * 3
    assert service.countByStatus()[COMPLETED] == 3
    assert folding.claims_of(service._workers['w1']) == []
    assert service.checkIndex() == []
    assert [service._index.started.has_key((100.0, jobid))
            for jobid in ids] == [True] * 3


def test_a_claim_made_in_the_folding_transaction_stays_deferred(
        service, noted):
    first = service.add('note', 1, now=100.0)
    dispatch = Dispatch(service)
    assert dispatch.claimJobs(100.0, 5, 'w1') == [first]
    dispatch.finishJob(first, 100.0)
    second = service.add('note', 2, now=100.0)
    assert dispatch.claimJobs(100.0 + INTERVAL, 5, 'w1') == [second]
    assert folding.claims_of(service._workers['w1']) == [second]
    counts = service.countByStatus()
    assert (counts[COMPLETED], counts[PROCESSING]) == (1, 1)
    assert service.checkIndex() == []


def test_the_long_jobs_claims_are_indexed_for_the_lists(service, noted,
                                                       conn):
    ids = [service.add('note', n, now=100.0) for n in range(2)]
    dispatch = Dispatch(service)
    dispatch.claimJobs(100.0, 5, 'w1')
    dispatch.finishJob(ids[1], 100.2)                   # one ended
    transaction.commit()
    assert dispatch.indexRunning('w1', 100.0 + folding.SHOW_RUNNING / 2) \
        == 0
    assert not conn._registered_objects                 # wrote nothing
    assert dispatch.indexRunning('w1', 100.0 + folding.SHOW_RUNNING) == 1
    assert list(service.jobIdsByStatus(PROCESSING)) == [ids[0]]
    assert folding.claims_of(service._workers['w1']) == [ids[1]]
    assert service.checkIndex() == []
    assert dispatch.indexRunning('nobody', 200.0) == 0
