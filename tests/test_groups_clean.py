"""Listing groups (``queryGroups``) and cleaning a finished one
(``cleanGroup``), in bounded transactions."""
import logging

import pytest
import transaction

import zodbtasks.service
from zodbtasks import testing
from zodbtasks.dispatch import Dispatch
from zodbtasks.groups import Group
from zodbtasks.interfaces import BLOCKED
from zodbtasks.interfaces import CANCELLED
from zodbtasks.interfaces import ERROR
from zodbtasks.interfaces import PendingChangesError
from zodbtasks.service import TaskService
from zodbtasks.task import TaskError


@pytest.fixture
def tasks(service, quiet):
    def square(n):
        if n < 0:
            raise TaskError('negative %d' % n)
        return n * n
    testing.register_task('square', square)
    testing.register_task('collect', lambda data: len(data['results']))


def finished_group(service, numbers, then=('collect', None), now=100.0,
                   **options):
    """A group of ``square`` jobs, run; its id."""
    gid = service.addGroup([('square', n) for n in numbers], then=then,
                           now=now, **options)
    transaction.commit()
    service.process(now=now + 1)
    return gid


class Commits:
    """A synchronizer recording, at each commit of the transaction
    manager, how many jobs the service holds and whether group ``gid``
    is still there."""

    def __init__(self, service, gid):
        self.service, self.gid, self.seen = service, gid, []

    def newTransaction(self, txn):
        txn.addBeforeCommitHook(lambda: self.seen.append(
            (len(self.service.jobs), self.gid in self.service._groups)))

    def beforeCompletion(self, txn):
        pass

    def afterCompletion(self, txn):
        pass


# -- queryGroups --------------------------------------------------------------

def test_query_groups_lists_the_newest_first_in_pages(service, tasks):
    gids = [service.addGroup([('square', n)], now=100.0 + n)
            for n in range(5)]
    transaction.commit()
    total, page = service.queryGroups()
    assert total == 5
    assert [group.id for group in page] == list(reversed(gids))
    assert [group.created for group in page] == [104.0, 103.0, 102.0,
                                                 101.0, 100.0]
    total, page = service.queryGroups(start=1, size=2)
    assert (total, [group.id for group in page]) == (5, [gids[3], gids[2]])
    assert service.queryGroups(start=5) == (5, [])
    assert service.queryGroups(size=0) == (5, [])


def test_query_groups_of_a_service_without_groups(service):
    assert service.queryGroups() == (0, [])


def test_query_groups_loads_only_the_groups_of_the_page(db, service, tasks):
    gids = [service.addGroup([('square', n)], now=100.0 + n)
            for n in range(6)]
    transaction.commit()
    with testing.open_service(db, service._p_oid) as (connection, _, svc):
        _, page = svc.queryGroups(start=1, size=2)
        assert [group.id for group in page] == [gids[4], gids[3]]
        loaded = [gid for gid in gids
                  if svc._groups[gid]._p_changed is not None]
        assert sorted(loaded) == sorted([gids[4], gids[3]])


def test_query_groups_counts_groups_stored_before_the_count(service, tasks):
    first = service.addGroup([('square', 1)], now=100.0)
    del service._groupCount           # as stored before 0.2's release
    assert service.queryGroups()[0] == 1
    second = service.addGroup([('square', 2)], now=101.0)
    assert service._groupCount() == 2
    assert service.queryGroups()[0] == 2
    transaction.commit()
    service.process(now=102.0)
    assert service.cleanGroup(first) == 1 and service.cleanGroup(second) == 1
    assert service.queryGroups() == (0, [])


@pytest.mark.parametrize('keywords, message', [
    ({'start': -1}, 'start: expected a whole number >= 0'),
    ({'size': '5'}, "size: expected a whole number >= 0, not '5'"),
    ({'size': True}, 'size: expected a whole number >= 0'),
])
def test_query_groups_refuses_bad_paging(service, keywords, message):
    with pytest.raises(ValueError) as info:
        service.queryGroups(**keywords)
    assert message in str(info.value)


def test_a_group_stored_before_created_existed_has_none():
    group = Group.__new__(Group)
    assert group.created is None and group.callbackId is None


# -- the counts ---------------------------------------------------------------

def test_done_and_failed_follow_the_outcomes_through_a_retry(service, tasks):
    gid = finished_group(service, [2, -1, 3], then=None)
    group = service.getGroup(gid)
    assert (group.done, group.failed, group.status) == (3, 1, 'failed')
    failed = group.jobIds[1]
    assert service.retry(failed, now=200.0)
    assert (group.done, group.failed, group.status) == (2, 0, 'running')
    service.jobs[failed].input = 4
    transaction.commit()
    service.process(now=201.0)
    assert (group.done, group.failed, group.status) == (3, 0, 'completed')
    assert group.results() == [4, 16, 9]


def test_a_group_stored_before_the_counts_counts_its_outcomes(service,
                                                              tasks):
    gid = finished_group(service, [2, -1], then=None)
    group = service.getGroup(gid)
    group._done = group._failed = None
    assert (group.done, group.failed) == (2, 1)
    assert service.retry(group.jobIds[1], now=200.0)
    assert (group.done, group.failed) == (1, 0)


# -- cleanGroup ---------------------------------------------------------------

def test_clean_group_removes_the_members_the_callback_and_the_group(
        service, tasks, caplog):
    gid = finished_group(service, [1, 2, 3])
    other = service.add('square', 5, now=100.0)
    transaction.commit()
    group = service.getGroup(gid)
    jobs = group.jobIds + (group.callbackId,)
    with caplog.at_level(logging.INFO, logger='zodbtasks.workflows'):
        assert service.cleanGroup(gid) == 4
    assert [(r.levelname, r.getMessage()) for r in caplog.records
            if r.name == 'zodbtasks.workflows'] == [
        ('INFO', 'group %d cleaned: 4 jobs removed' % gid)]
    assert not any(jobid in service.jobs for jobid in jobs)
    assert other in service.jobs
    with pytest.raises(KeyError):
        service.getGroup(gid)
    assert service.queryGroups() == (0, [])
    assert service.checkIndex() == []


def test_clean_group_works_in_transactions_of_batch_size_jobs(
        service, tasks, monkeypatch):
    monkeypatch.setattr(zodbtasks.service, 'BATCH_SIZE', 3)
    gid = finished_group(service, range(7))    # 7 members and a callback
    assert len(service.jobs) == 8
    commits = Commits(service, gid)
    transaction.manager.registerSynch(commits)
    try:
        assert service.cleanGroup(gid) == 8
    finally:
        transaction.manager.unregisterSynch(commits)
    # jobs left and whether the group is there, at each commit: three
    # jobs per transaction, the group forgotten with the last ones
    assert commits.seen == [(5, True), (2, True), (0, False)]
    assert service.checkIndex() == []


def test_a_batch_that_ends_the_group_forgets_it_at_once(service, tasks,
                                                        monkeypatch):
    monkeypatch.setattr(zodbtasks.service, 'BATCH_SIZE', 2)
    gid = finished_group(service, [1, 2, 3])   # 3 members and a callback
    commits = Commits(service, gid)
    transaction.manager.registerSynch(commits)
    try:
        assert service.cleanGroup(gid) == 4
    finally:
        transaction.manager.unregisterSynch(commits)
    assert commits.seen == [(2, True), (0, False)]


def test_members_removed_by_clean_are_skipped(service, tasks):
    gid = finished_group(service, [1, -2, 3, -4], onFailure='run')
    group = service.getGroup(gid)
    assert service.getStatus(group.callbackId) == 'completed'
    assert service.clean([ERROR]) == 2
    assert service.cleanGroup(gid) == 3        # 2 members and the callback
    assert len(service.jobs) == 0
    assert service.checkIndex() == []


def test_a_group_whose_jobs_are_all_gone_is_forgotten(service, tasks):
    gid = finished_group(service, [1, 2])
    assert service.clean() == 3
    assert service.cleanGroup(gid) == 0
    assert service.queryGroups() == (0, [])


def test_a_running_group_is_refused(service, tasks):
    gid = service.addGroup([('square', 1), ('square', 2)],
                           then=('collect', None), now=100.0)
    transaction.commit()
    with pytest.raises(ValueError) as info:
        service.cleanGroup(gid)
    assert str(info.value) == (
        'group %d is running (0 of 2 members finished): clean it once '
        'every member has finished' % gid)
    assert len(service.jobs) == 3 and service.getGroup(gid).id == gid


def test_a_group_whose_callback_waits_is_refused(service, tasks):
    gid = finished_group(service, [1, -2])     # onFailure='wait'
    group = service.getGroup(gid)
    assert service.getStatus(group.callbackId) == BLOCKED
    with pytest.raises(ValueError) as info:
        service.cleanGroup(gid)
    assert str(info.value) == (
        'group %d is failed, but its callback job %d is blocked: let the '
        'callback finish, or cancel it, then clean the group'
        % (gid, group.callbackId))
    assert len(service.jobs) == 3
    assert service.cancel(group.callbackId)
    transaction.commit()
    assert service.getStatus(group.callbackId) == CANCELLED
    assert service.cleanGroup(gid) == 3
    assert service.checkIndex() == []


def test_a_group_whose_unfinished_members_were_deleted_can_be_cleaned(
        service, tasks):
    gid = service.addGroup([('square', 1), ('square', 2)], now=100.0)
    transaction.commit()
    group = service.getGroup(gid)
    assert service.delete(group.jobIds[0])
    transaction.commit()
    service.process(now=101.0)
    assert (group.status, group.done) == ('running', 1)   # never finishes
    assert service.cleanGroup(gid) == 1
    assert service.checkIndex() == []


def test_an_unknown_group_is_a_key_error(service, tasks):
    with pytest.raises(KeyError):
        service.cleanGroup(42)
    finished_group(service, [1])
    with pytest.raises(KeyError):
        service.cleanGroup(42)


def test_clean_group_refuses_pending_changes(service, tasks):
    gid = finished_group(service, [1])
    service.add('square', 2, now=200.0)
    with pytest.raises(PendingChangesError):
        service.cleanGroup(gid)
    transaction.abort()
    assert service.getGroup(gid).id == gid and len(service.jobs) == 2


def test_a_group_that_started_running_again_stops_the_clean(
        db, service, tasks, monkeypatch):
    """A member retried by another process between two batches: the
    next batch refuses, and says how many jobs were removed before."""
    monkeypatch.setattr(zodbtasks.service, 'BATCH_SIZE', 2)
    gid = finished_group(service, [1, 2, -3, 4], then=None)
    last = service.getGroup(gid).jobIds[2]
    batch = TaskService._clean_group_batch

    def retry_after_first_batch(self, gid, cursor, limit):
        if cursor:
            with testing.open_service(db, service._p_oid) as (_, tm, svc):
                svc.retry(last, now=300.0)
                tm.commit()
            transaction.begin()    # see it (in_transaction began before)
        return batch(self, gid, cursor, limit)
    monkeypatch.setattr(TaskService, '_clean_group_batch',
                        retry_after_first_batch)
    with pytest.raises(ValueError) as info:
        service.cleanGroup(gid)
    assert str(info.value).startswith('group %d is running (3 of 4' % gid)
    assert str(info.value).endswith('(2 of its jobs were removed before it '
                                    'changed)')
    transaction.begin()
    assert len(service.jobs) == 2 and service.getStatus(last) == 'queued'
    assert service.checkIndex() == []


def test_a_callback_finished_but_not_folded_is_folded_then_removed(
        service, tasks):
    gid = service.addGroup([('square', 1)], then=('collect', None),
                           now=100.0)
    group = service.getGroup(gid)
    transaction.commit()
    dispatch = Dispatch(service)
    assert dispatch.claimJobs(101.0, 5, 'w1') == list(group.jobIds)
    dispatch.finishJob(group.jobIds[0], 102.0, output=1)
    dispatch.foldJobs('w1', 103.0)
    assert dispatch.claimJobs(104.0, 5, 'w1') == [group.callbackId]
    dispatch.finishJob(group.callbackId, 105.0, output=1)
    transaction.commit()
    assert service.getStatus(group.callbackId) == 'completed'
    assert service.countByStatus()['processing'] == 1     # unfolded
    assert service.cleanGroup(gid) == 2
    assert service.countByStatus()['processing'] == 0
    assert service.checkIndex() == []
