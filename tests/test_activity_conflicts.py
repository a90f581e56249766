"""Two connections, one database: dependencies, unique work and
serialization hold because the transactions that would break them
conflict (ZODB's conflict detection, not best effort)."""
import pytest
import transaction
from ZODB.POSException import ConflictError

from zodbtasks import testing
from zodbtasks.dispatch import Dispatch
from zodbtasks.interfaces import BLOCKED
from zodbtasks.interfaces import COMPLETED
from zodbtasks.interfaces import QUEUED


@pytest.fixture
def ran(service, quiet):
    order = []
    testing.register_task('note', order.append)
    return order


@pytest.fixture
def other(db, service):
    """The same service in a second connection with its own
    transaction manager."""
    with testing.open_service(db, service._p_oid) as (_, tm, copy):
        yield Other(copy, tm)


class Other:
    def __init__(self, svc, tm):
        self.svc, self.tm = svc, tm


def _claimed_blocker(service):
    blocker = service.add('note', 'blocker', now=100.0)
    transaction.commit()
    assert Dispatch(service).claimJobs(101.0, 1, 'w1') == [blocker]
    transaction.commit()
    return blocker


def test_a_dependent_added_while_its_blocker_finishes_conflicts(
        service, other, ran):
    blocker = _claimed_blocker(service)
    other.tm.begin()
    # the other connection still sees the blocker running
    dependent = other.svc.add('note', 'dependent', after=blocker, now=102.0)
    assert other.svc.getStatus(dependent) == BLOCKED
    Dispatch(service).finishJob(blocker, 103.0)
    transaction.commit()                       # the blocker's run commits
    with pytest.raises(ConflictError):
        other.tm.commit()
    other.tm.abort()
    # the retry sees the finished blocker
    dependent = other.svc.add('note', 'dependent', after=blocker, now=104.0)
    assert other.svc.getStatus(dependent) == QUEUED
    other.tm.commit()


def test_a_dependent_registered_first_is_released_by_the_fold(
        service, other, ran):
    blocker = _claimed_blocker(service)
    other.tm.begin()
    dependent = other.svc.add('note', 'dependent', after=blocker, now=102.0)
    other.tm.commit()                          # registered first
    Dispatch(service).finishJob(blocker, 103.0)
    transaction.commit()                       # merged with the flag
    assert service.jobs[blocker].watched
    Dispatch(service).foldJobs('w1', 104.0)
    transaction.commit()
    assert service.getStatus(dependent) == QUEUED
    service.process(now=105.0)
    assert ran == ['dependent']


def test_two_last_blockers_of_a_fan_in_release_it_once(service, other,
                                                       ran):
    first = service.add('note', 'a', now=100.0)
    second = service.add('note', 'b', now=100.0)
    fan_in = service.add('note', 'fan-in', after=[first, second], now=100.0)
    transaction.commit()
    assert Dispatch(service).claimJobs(101.0, 1, 'w1') == [first]
    transaction.commit()
    other.tm.begin()
    assert Dispatch(other.svc).claimJobs(101.0, 1, 'w2') == [second]
    other.tm.commit()
    for svc, tm, jobid in ((service, transaction.manager, first),
                           (other.svc, other.tm, second)):
        tm.begin()
        Dispatch(svc).finishJob(jobid, 102.0)
        tm.commit()
    # both fold at the same time: at most one may release the fan-in
    transaction.begin()
    other.tm.begin()
    Dispatch(service).foldJobs('w1', 103.0)
    Dispatch(other.svc).foldJobs('w2', 103.0)
    transaction.commit()
    try:
        other.tm.commit()
    except ConflictError:
        other.tm.abort()
        Dispatch(other.svc).foldJobs('w2', 104.0)
        other.tm.commit()
    transaction.begin()
    assert service.getStatus(fan_in) == QUEUED
    service.process(now=105.0)
    assert ran == ['fan-in']
    assert service.getStatus(fan_in) == COMPLETED
    assert service.checkIndex() == []


def test_two_claims_of_one_serialization_tag_conflict(service, other, ran):
    a = service.add('note', 'a', serializationTag='s', now=100.0)
    b = service.add('note', 'b', serializationTag='s', now=100.0)
    transaction.commit()
    other.tm.begin()
    assert Dispatch(service).claimJobs(101.0, 1, 'w1') == [a]
    # the other claimer does not see that claim yet: it may take b
    maps = Dispatch(other.svc).maps
    job = other.svc.jobs[b]
    assert maps.holds.refusal(job, 101.0) is None
    maps.unqueue(job)
    maps.claim(job, 101.0, 'w2')
    transaction.commit()
    with pytest.raises(ConflictError):
        other.tm.commit()
    other.tm.abort()
    # its retry sees the tag taken
    assert maps.holds.refusal(other.svc.jobs[b], 102.0) == (('serial', 's'),
                                                           None)


def test_a_worker_lost_between_its_run_and_its_fold_is_repaired_by_the_sweeper(
        service, ran):
    """The run committed, the worker died before folding it: the sweeper
    folds the job and releases its dependent, once."""
    blocker = _claimed_blocker(service)
    dependent = service.add('note', 'dependent', after=blocker, now=101.5)
    transaction.commit()
    Dispatch(service).finishJob(blocker, 102.0)
    transaction.commit()                       # ... and worker w1 dies
    assert service.getStatus(dependent) == BLOCKED
    assert service.sweep(now=102.0 + 10 * service.leaseTimeout) == 0
    transaction.commit()
    assert service.getStatus(dependent) == QUEUED
    assert service.workers() == []
    service.process(now=1000.0)
    assert ran == ['dependent']
    assert service.checkIndex() == []


def test_a_park_racing_the_release_of_its_gate_is_woken_later(
        service, other, ran):
    """The release of a serialization tag commits while another claim
    parks a job behind it; the two write no common object, so no wake is
    set: the next claim of any worker wakes the gate."""
    a = service.add('note', 'a', serializationTag='s', now=100.0)
    b = service.add('note', 'b', serializationTag='s', now=100.0)
    transaction.commit()
    assert Dispatch(service).claimJobs(101.0, 1, 'w1') == [a]
    transaction.commit()
    other.tm.begin()
    # the other claimer sees a running: it parks b
    assert Dispatch(other.svc).claimJobs(101.5, 1, 'w2') == []
    assert other.svc.jobs[b].parkedOn == ('serial', 's')
    Dispatch(service).finishJob(a, 102.0)
    transaction.commit()
    Dispatch(service).foldJobs('w1', 103.0)      # releases the tag
    transaction.commit()
    other.tm.commit()                            # no conflict: both land
    transaction.begin()
    assert service.jobs[b].parkedOn == ('serial', 's')
    assert getattr(service, '_serial', {}).get('s') is None
    # any claim repairs the missing wake and b runs
    assert Dispatch(service).claimJobs(104.0, 1, 'w1') == [b]
    transaction.commit()
