"""Dependencies: ``after``, ``tag``/``afterTag``, ``afterTask`` and
``onDependencyFailure``, proven with ``process(now)``."""
import pytest
import transaction

from zodbtasks import testing
from zodbtasks.interfaces import BLOCKED
from zodbtasks.interfaces import CANCELLED
from zodbtasks.interfaces import COMPLETED
from zodbtasks.interfaces import ERROR
from zodbtasks.interfaces import QUEUED
from zodbtasks.interfaces import WAITING
from zodbtasks.task import TaskError


@pytest.fixture
def ran(service, quiet):
    """'note' records its input; 'boom' fails (TaskError) unless the
    input is in ``healed``."""
    order = _Ran()
    healed = order.healed

    def boom(input):
        if input not in healed:
            raise TaskError('boom %s' % input)
        order.append(input)
    testing.register_task('note', order.append)
    testing.register_task('boom', boom)
    return order


class _Ran(list):
    def __init__(self):
        super().__init__()
        self.healed = set()


def test_blocked_is_a_waiting_status():
    assert BLOCKED == 'blocked' and BLOCKED in WAITING


def test_a_job_after_another_waits_until_it_finished(service, ran):
    first = service.add('note', 'first', now=100.0)
    second = service.add('note', 'second', after=first, now=100.0)
    assert service.getStatus(second) == BLOCKED
    assert service.getWaitReason(second, now=100.0) == \
        'waits for job %s (queued)' % first
    transaction.commit()
    assert service.process(now=200.0) == 2
    assert ran == ['first', 'second']
    assert service.getStatus(second) == COMPLETED
    assert service.getWaitReason(second) is None
    assert service.checkIndex() == []


def test_after_a_finished_job_runs_at_once(service, ran):
    first = service.add('note', 'first', now=100.0)
    transaction.commit()
    service.process(now=110.0)
    second = service.add('note', 'second', after=[first], now=120.0)
    assert service.getStatus(second) == QUEUED


def test_a_chain_runs_in_order_whatever_the_priorities(service, ran):
    previous = None
    for number in range(20):
        previous = service.add('note', number, now=100.0,
                               priority=-number,
                               after=() if previous is None else previous)
    transaction.commit()
    assert service.process(now=200.0) == 20
    assert ran == list(range(20))


def test_fan_in_runs_once_after_all(service, ran):
    ids = [service.add('note', number, now=100.0) for number in range(50)]
    last = service.add('note', 'last', after=ids, now=100.0)
    assert service.getWaitReason(last, now=100.0) == \
        'waits for job %s (queued) and 49 more' % ids[0]
    transaction.commit()
    service.process(now=200.0)
    assert ran[-1] == 'last' and ran.count('last') == 1
    assert sorted(ran[:-1]) == list(range(50))


def test_after_tag_waits_for_every_other_tagged_job(service, ran):
    for number in range(3):
        service.add('note', number, tag='reindex', now=100.0)
    final = service.add('note', 'final', afterTag='reindex', now=100.0,
                        priority=-10)
    assert service.getStatus(final) == BLOCKED
    assert service.getWaitReason(final) == \
        "waits for 3 jobs tagged 'reindex'"
    transaction.commit()
    service.process(now=200.0)
    assert ran == [0, 1, 2, 'final']


def test_after_tag_counts_jobs_added_later(service, ran):
    early = service.add('note', 'early', tag='t', now=100.0)
    final = service.add('note', 'final', afterTag='t', now=100.0)
    late = service.add('note', 'late', tag='t', now=100.0)
    transaction.commit()
    service.process(now=200.0)
    assert ran == ['early', 'late', 'final']
    assert {service.getStatus(jobid) for jobid in (early, final, late)} \
        == {COMPLETED}


def test_a_released_job_is_blocked_again_by_a_newer_tagged_job(
        service, ran):
    service.add('note', 'a', tag='t', now=100.0)
    final = service.add('note', 'final', afterTag='t', now=100.0)
    transaction.commit()
    service.processNext(now=150.0)           # 'a' ran: final is released
    assert service.getStatus(final) == QUEUED
    service.add('note', 'b', tag='t', now=160.0, priority=5)
    transaction.commit()
    service.process(now=200.0)
    assert ran == ['a', 'b', 'final']


def test_a_job_never_waits_for_itself(service, ran):
    alone = service.add('note', 'alone', tag='t', afterTag='t',
                        afterTask='note', now=100.0)
    assert service.getStatus(alone) == QUEUED
    transaction.commit()
    assert service.process(now=200.0) == 1


def test_after_task_waits_for_the_jobs_of_a_task(service, ran):
    service.add('boom', 'x', now=100.0)
    ran.healed.add('x')
    waiter = service.add('note', 'waiter', afterTask='boom', now=100.0,
                         priority=-5)
    assert service.getWaitReason(waiter).startswith(
        "waits for 1 job of task 'boom'")
    transaction.commit()
    service.process(now=200.0)
    assert ran == ['x', 'waiter']


def test_wait_stays_blocked_behind_a_failure_until_retried(service, ran):
    failing = service.add('boom', 'b', now=100.0)
    waiter = service.add('note', 'after b', after=failing, now=100.0)
    transaction.commit()
    service.process(now=200.0)
    assert service.getStatus(failing) == ERROR
    assert service.getStatus(waiter) == BLOCKED
    assert service.getWaitReason(waiter) == \
        'waits for job %s (error)' % failing
    ran.healed.add('b')
    assert service.retry(failing, now=300.0)
    transaction.commit()
    service.process(now=400.0)
    assert ran == ['b', 'after b']


def test_wait_is_released_when_the_failed_job_is_deleted(service, ran):
    failing = service.add('boom', 'b', now=100.0)
    waiter = service.add('note', 'after b', after=failing, now=100.0)
    transaction.commit()
    service.process(now=200.0)
    assert service.delete(failing)
    assert service.getStatus(waiter) == QUEUED
    transaction.commit()
    service.process(now=300.0)
    assert ran == ['after b']


def test_clean_of_a_failed_tagged_job_releases_its_waiters(service, ran):
    service.add('boom', 'b', tag='t', now=100.0)
    waiter = service.add('note', 'w', afterTag='t', now=100.0)
    transaction.commit()
    service.process(now=200.0)
    assert service.getStatus(waiter) == BLOCKED
    service.clean([ERROR])
    assert service.getStatus(waiter) == QUEUED


def test_run_runs_anyway(service, ran):
    failing = service.add('boom', 'b', now=100.0)
    anyway = service.add('note', 'anyway', after=failing,
                         onDependencyFailure='run', now=100.0)
    transaction.commit()
    service.process(now=200.0)
    assert service.getStatus(anyway) == COMPLETED
    assert ran == ['anyway']


def test_cancel_cancels_and_cascades(service, ran):
    failing = service.add('boom', 'b', now=100.0)
    first = service.add('note', 'c1', after=failing,
                        onDependencyFailure='cancel', now=100.0)
    second = service.add('note', 'c2', after=first,
                         onDependencyFailure='cancel', now=100.0)
    third = service.add('note', 'w3', after=second, now=100.0)
    transaction.commit()
    service.process(now=200.0)
    assert service.getStatus(first) == CANCELLED
    assert service.getError(first) == \
        'cancelled: job %s that it waited for ended in error' % failing
    assert service.getStatus(second) == CANCELLED
    assert service.getError(second) == \
        'cancelled: job %s that it waited for was cancelled' % first
    # the third waits (its own policy) behind the cancelled second
    assert service.getStatus(third) == BLOCKED
    assert ran == []
    assert service.checkIndex() == []


def test_cancelling_a_job_applies_its_dependents_policies(service, ran):
    blocker = service.add('note', 'blocker', startLater=True, now=100.0)
    waits = service.add('note', 'waits', after=blocker, now=100.0)
    runs = service.add('note', 'runs', after=blocker, now=100.0,
                       onDependencyFailure='run')
    cancels = service.add('note', 'cancels', after=blocker, now=100.0,
                          onDependencyFailure='cancel')
    assert service.cancel(blocker)
    assert service.getStatus(waits) == BLOCKED
    assert service.getStatus(runs) == QUEUED
    assert service.getStatus(cancels) == CANCELLED
    assert service.getError(cancels) == \
        'cancelled: job %s that it waited for was cancelled' % blocker


def test_deleting_a_waiting_job_applies_its_dependents_policies(
        service, ran):
    blocker = service.add('note', 'blocker', startLater=True, now=100.0)
    waits = service.add('note', 'waits', after=blocker, now=100.0)
    cancels = service.add('note', 'cancels', after=blocker, now=100.0,
                          onDependencyFailure='cancel')
    assert service.delete(blocker)
    assert service.getStatus(waits) == QUEUED
    assert service.getStatus(cancels) == CANCELLED
    assert service.getError(cancels) == \
        'cancelled: job %s that it waited for was deleted' % blocker


def test_adding_after_a_failed_job(service, ran):
    failing = service.add('boom', 'b', now=100.0)
    transaction.commit()
    service.process(now=200.0)
    assert service.getStatus(service.add(
        'note', 'w', after=failing, now=300.0)) == BLOCKED
    assert service.getStatus(service.add(
        'note', 'r', after=failing, onDependencyFailure='run',
        now=300.0)) == QUEUED
    cancelled = service.add('note', 'c', after=failing, now=300.0,
                            onDependencyFailure='cancel')
    assert service.getStatus(cancelled) == CANCELLED
    assert 'ended in error' in service.getError(cancelled)


def test_cancelling_or_deleting_a_blocked_job(service, ran):
    blocker = service.add('note', 'blocker', startLater=True, now=100.0)
    one = service.add('note', 'one', after=blocker, now=100.0)
    two = service.add('note', 'two', after=blocker, now=100.0)
    assert service.cancel(one)
    assert service.delete(two)
    assert service.getDependents(blocker) == []
    assert service.checkIndex() == []


def test_dependents_are_listed(service, ran):
    blocker = service.add('note', 'blocker', now=100.0)
    one = service.add('note', 'one', after=blocker, now=100.0)
    assert service.getDependents(blocker) == [one]
    chain = service.getWaitChain(one, now=100.0)
    assert [line[0] for line in chain] == [one, blocker]


def test_delayed_and_start_later_jobs_check_when_ready(service, ran):
    blocker = service.add('note', 'blocker', now=100.0)
    later = service.add('note', 'later', after=blocker, at=150.0,
                        now=100.0)
    manual = service.add('note', 'manual', after=blocker, startLater=True,
                         now=100.0)
    assert service.getWaitReason(later).startswith('not before')
    assert service.startJob(manual, now=100.0)
    transaction.commit()
    service.process(now=200.0)
    assert ran[0] == 'blocker' and sorted(ran[1:]) == ['later', 'manual']


def test_a_retried_job_keeps_priority_and_tags(service, ran):
    failing = service.add('boom', 'b', tag='t', priority=3, now=100.0)
    transaction.commit()
    service.process(now=200.0)
    service.retry(failing, now=300.0)
    job = service.jobs[failing]
    assert (job.priority, job.tags) == (3, ('t',))


@pytest.mark.parametrize('keywords, message', [
    ({'after': 'x'}, 'after: expected a job id'),
    ({'after': [1.5]}, 'after: 1.5 is not a job id'),
    ({'tag': 7}, 'tag: expected a string or a list of strings'),
    ({'tag': ['ok', 3]}, 'tag: expected a non-empty string'),
    ({'afterTag': ''}, 'afterTag: expected a non-empty string'),
    ({'afterTask': [None]}, 'afterTask: expected a non-empty string'),
    ({'onDependencyFailure': 'skip'}, "onDependencyFailure: expected one "
                                      "of 'wait', 'run', 'cancel'"),
    ({'serializationTag': 5}, 'serializationTag: expected a non-empty'),
    ({'tag': ['t%d' % n for n in range(101)]}, 'tag: more than 100'),
])
def test_bad_dependencies_are_refused_and_create_nothing(
        service, ran, keywords, message):
    with pytest.raises(ValueError) as info:
        service.add('note', 'x', **keywords)
    assert message in str(info.value)
    assert len(service) == 0


def test_an_unknown_job_in_after_is_a_lookup_error(service, ran):
    with pytest.raises(LookupError) as info:
        service.add('note', 'x', after=[424242])
    assert str(info.value) == \
        'after: there is no job 424242 in this service'
    assert len(service) == 0


def test_a_forgotten_blocked_job_is_found_and_repaired(service, ran):
    blocker = service.add('note', 'blocker', now=100.0)
    waiter = service.add('note', 'waiter', after=blocker, now=100.0)
    transaction.commit()
    service.process(now=110.0)
    assert service.getStatus(waiter) == COMPLETED
    # damage: a blocked job that no watched job lists
    other = service.add('note', 'other', startLater=True, now=120.0)
    lost = service.add('note', 'lost', after=other, now=120.0)
    del service._watchers[other]
    transaction.commit()
    assert service.checkIndex() == [
        'job %d: blocked but watches no job that blocks it' % lost]
    service.rebuildIndex()
    assert service.checkIndex() == []
    assert service.getDependents(other) == [lost]
    assert service.getStatus(lost) == BLOCKED


def test_the_holder_sets_are_checked(service, ran):
    tagged = service.add('note', 'x', tag='t', now=100.0)
    service._holders.remove(('tag', 't'), tagged)
    transaction.commit()
    assert "job %d: does not hold ('tag', 't') as live" % tagged \
        in service.checkIndex()
    service.rebuildIndex()
    assert service.checkIndex() == []


def test_a_blocker_retried_with_back_off_keeps_its_dependents_waiting(
        service, ran):
    from zodbtasks.retry import RetryPolicy
    flaky = service.add('boom', 'f', now=100.0, retryPolicy=RetryPolicy(
        maxAttempts=3, delay=10.0, retryErrors=True))
    waiter = service.add('note', 'after f', after=flaky, now=100.0)
    transaction.commit()
    service.process(now=200.0)                  # fails, retried later
    assert service.getStatus(flaky) == QUEUED
    assert service.getStatus(waiter) == BLOCKED
    assert service.getWaitReason(flaky).startswith('retried: not before')
    ran.healed.add('f')
    service.process(now=300.0)
    assert ran == ['f', 'after f']


def test_a_cron_job_holds_its_tag_only_while_it_runs(service, ran):
    service.addCronJob('note', 'tick', cron='* * * * *', tag='nightly',
                       now=100.0)
    free = service.add('note', 'free', afterTag='nightly', now=100.0)
    assert service.getStatus(free) == QUEUED
    transaction.commit()
    service.process(now=100.0)
    assert service.getStatus(free) == COMPLETED
