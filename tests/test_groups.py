"""Groups with a callback (fan-out / fan-in with results) and chain
steps (``then=``)."""
import pytest
import transaction

from zodbtasks import runner
from zodbtasks import testing
from zodbtasks.dispatch import Dispatch
from zodbtasks.interfaces import BLOCKED
from zodbtasks.interfaces import CANCELLED
from zodbtasks.interfaces import COMPLETED
from zodbtasks.task import TaskError


@pytest.fixture
def calls(service, quiet):
    seen = []

    def square(n):
        if n < 0:
            raise TaskError('negative %d' % n)
        return n * n

    def collect(data):
        seen.append(data)
        return sum(r or 0 for r in data.get('results', []))
    testing.register_task('square', square)
    testing.register_task('collect', collect)
    return seen


def test_the_callback_runs_once_with_the_results_in_member_order(
        service, calls):
    gid = service.addGroup([('square', n) for n in (3, 1, 2)],
                           then=('collect', {'label': 'sum'}), tag='calc',
                           now=100.0)
    group = service.getGroup(gid)
    assert (group.total, group.done, group.status) == (3, 0, 'running')
    assert service.getStatus(group.callbackId) == BLOCKED
    assert all('calc' in service.jobs[j].tags for j in group.jobIds)
    transaction.commit()
    service.process(now=200.0)
    assert calls == [{'label': 'sum', 'results': [9, 1, 4]}]
    group = service.getGroup(gid)
    assert (group.done, group.failed, group.status) == (3, 0, 'completed')
    assert group.results() == [9, 1, 4]
    assert service.getResult(group.callbackId) == 14


def test_a_failed_member_keeps_the_callback_waiting(service, calls):
    gid = service.addGroup([('square', 2), ('square', -1)],
                           then=('collect', None), now=100.0)
    transaction.commit()
    service.process(now=200.0)
    group = service.getGroup(gid)
    assert (group.done, group.failed, group.status) == (2, 1, 'failed')
    assert service.getStatus(group.callbackId) == BLOCKED
    assert calls == []


def test_on_failure_run_passes_the_errors(service, calls):
    gid = service.addGroup([('square', 2), ('square', -1)],
                           then=('collect', None), onFailure='run',
                           now=100.0)
    transaction.commit()
    service.process(now=200.0)
    assert calls == [{'results': [4, None], 'errors': [None, 'negative -1']}]
    assert service.getGroup(gid).status == 'failed'


def test_on_failure_cancel_cancels_the_callback(service, calls):
    gid = service.addGroup([('square', -1)], then=('collect', None),
                           onFailure='cancel', now=100.0)
    transaction.commit()
    service.process(now=200.0)
    assert service.getStatus(service.getGroup(gid).callbackId) == CANCELLED


def _finish_in_two_connections(db, service, ids):
    """Claim, finish and fold the two members in two connections at the
    same time; return whether the second fold had to be retried."""
    from ZODB.POSException import ConflictError
    assert Dispatch(service).claimJobs(101.0, 1, 'w1') == [ids[0]]
    transaction.commit()
    with testing.open_service(db, service._p_oid) as (_, tm, svc):
        assert Dispatch(svc).claimJobs(101.0, 1, 'w2') == [ids[1]]
        tm.commit()
        Dispatch(service).finishJob(ids[0], 102.0, output=1)
        Dispatch(svc).finishJob(ids[1], 102.0, output=4)
        transaction.commit()
        tm.commit()
        Dispatch(service).foldJobs('w1', 103.0)
        Dispatch(svc).foldJobs('w2', 103.0)
        retried = False
        for svc_, manager, owner in ((service, transaction.manager, 'w1'),
                                     (svc, tm, 'w2')):
            try:
                manager.commit()
            except ConflictError:  # a watcher re-registered: retry
                manager.abort()
                Dispatch(svc_).foldJobs(owner, 104.0)
                manager.commit()
                retried = True
        return retried


def test_members_finishing_at_once_do_not_conflict(db, service, calls):
    gid = service.addGroup([('square', 1), ('square', 2)], now=100.0)
    transaction.commit()
    retried = _finish_in_two_connections(db, service,
                                         service.getGroup(gid).jobIds)
    assert not retried       # the outcomes are different keys: they merge
    transaction.begin()
    assert service.getGroup(gid).results() == [1, 4]


def test_a_fan_in_of_members_finishing_at_once_runs_once(db, service, calls):
    gid = service.addGroup([('square', 1), ('square', 2)],
                           then=('collect', None), now=100.0)
    transaction.commit()
    _finish_in_two_connections(db, service, service.getGroup(gid).jobIds)
    transaction.begin()
    service.process(now=105.0)
    assert calls == [{'results': [1, 4]}]
    assert service.checkIndex() == []


def test_a_chain_passes_each_result_on(service, calls):
    first = service.add('square', 3, now=100.0,
                        then=('collect', {'step': 2},
                              {'then': ('collect', {'step': 3})}))
    transaction.commit()
    service.process(now=200.0)
    assert service.getStatus(first) == COMPLETED
    assert calls[0]['result'] == 9 and calls[0]['step'] == 2
    # collect returns the sum of its 'results' (none here: 0)
    assert calls[1]['step'] == 3 and calls[1]['result'] == 0


def _claim_and_run(service, owner, now):
    """One worker's next claim (which folds what it finished), and the
    runs of what it claimed."""
    claimed = Dispatch(service).claimJobs(now, 5, owner)
    transaction.commit()
    for jobid in claimed:
        runner.run_job(service, transaction.manager, jobid, now=now,
                       owner=owner)


@pytest.mark.parametrize('second, expected', [
    (3, {'results': [4, 9], 'errors': [None, None]}),
    (-3, {'results': [4, None], 'errors': [None, 'negative -3']}),
])
def test_a_callback_sees_the_outcome_of_a_member_not_folded_yet(
        service, calls, second, expected):
    """Member 1 finished on worker w2, whose next claim (the fold that
    writes its outcome) has not come yet, when w1 folds member 0."""
    gid = service.addGroup([('square', 2), ('square', second)],
                           then=('collect', None), onFailure='run',
                           now=100.0)
    transaction.commit()
    first, other = service.getGroup(gid).jobIds
    assert Dispatch(service).claimJobs(101.0, 1, 'w1') == [first]
    assert Dispatch(service).claimJobs(101.0, 1, 'w2') == [other]
    transaction.commit()
    for jobid, owner in ((other, 'w2'), (first, 'w1')):
        runner.run_job(service, transaction.manager, jobid, now=102.0,
                       owner=owner)
    for now, owner in ((103.0, 'w1'), (104.0, 'w2'), (105.0, 'w1')):
        _claim_and_run(service, owner, now)
    assert calls == [expected]


@pytest.mark.parametrize('keywords, message', [
    ({'jobs': []}, 'jobs: a group needs at least one job'),
    ({'jobs': ['x']}, 'jobs: member 0: expected (task, input)'),
    ({'jobs': [('square', 1)], 'onFailure': 'skip'}, 'onFailure: expected'),
    ({'jobs': [('square', 1)], 'then': ('collect', 5)},
     'then: the input of a callback or chain step is a dict'),
])
def test_bad_groups_are_refused(service, calls, keywords, message):
    with pytest.raises(ValueError) as info:
        service.addGroup(**keywords)
    assert message in str(info.value)
    assert len(service) == 0


def test_a_chain_step_whose_task_is_gone_does_not_block_claims(
        service, calls):
    import zope.component
    from zodbtasks.interfaces import ITask
    gone = testing.register_task('gone', lambda data: None)
    first = service.add('square', 2, then=('gone', None), now=100.0)
    zope.component.getGlobalSiteManager().unregisterUtility(
        gone, ITask, name='gone')
    other = service.add('square', 3, now=100.0)
    transaction.commit()
    assert service.process(now=200.0) == 2
    assert service.getStatus(first) == COMPLETED
    assert service.getError(first).startswith(
        "its chain step was not added: no task named 'gone'")
    assert service.getStatus(other) == COMPLETED
