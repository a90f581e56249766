"""Retention: finished jobs older than their status's keep time are
removed in bounded transactions, by removeExpired and by the
processors; cron jobs never."""
import threading

import pytest
import transaction
import zope.app.appsetup.product

from zodbtasks import retention
from zodbtasks import runner
from zodbtasks import testing
from zodbtasks.interfaces import COMPLETED
from zodbtasks.interfaces import PendingChangesError


@pytest.mark.parametrize('text, seconds', [
    ('90', 90), ('30s', 30), ('15m', 900), ('12h', 43200), ('7d', 604800),
    ('2w', 1209600), (' 1.5h ', 5400), ('0', 0), ('keep', None),
    ('KEEP', None)])
def test_durations(text, seconds):
    assert retention.parse_duration(text, 'keep-completed') == seconds


@pytest.mark.parametrize('text', ['7x', '', '-1d', 'd', '1 d 2'])
def test_bad_durations_name_the_key(text):
    with pytest.raises(ValueError, match=r"keep-failed '.*' in "
                                         r"<product-config zodbtasks>"):
        retention.parse_duration(text, 'keep-failed')


def test_the_policy_of_the_product_config():
    assert retention.policy({}) == {}
    assert retention.policy({'keep-completed': '7d', 'keep-failed': '30d',
                             'keep-cancelled': 'keep'}) == {
        'completed': 604800, 'error': 2592000}


def _finished(service, count, now, task='echo'):
    ids = [service.add(task, n, now=now) for n in range(count)]
    transaction.commit()
    service.process(now=now)
    return ids


def test_old_finished_jobs_are_removed(service, tasks, quiet):
    old = _finished(service, 5, 1000.0)
    failed = _finished(service, 2, 1000.0, task='fail')
    new = _finished(service, 3, 5000.0)
    cron = service.addCronJob('echo', None, minute=[0], now=1000.0)
    transaction.commit()
    service.jobs[cron].completed = 1000.0     # ran long ago
    transaction.commit()
    removed = service.removeExpired({COMPLETED: 3600}, now=6000.0)
    assert removed == 5
    assert [jobid in service.jobs for jobid in old] == [False] * 5
    assert all(jobid in service.jobs for jobid in failed + new + [cron])
    assert service.countByStatus()[COMPLETED] == 3
    assert service.checkIndex() == []
    assert service.removeExpired({'error': 0}, now=6000.0) == 2
    assert service.checkIndex() == []


def test_a_cancelled_cron_job_is_never_removed(service, tasks):
    cron = service.addCronJob('echo', None, minute=[0], now=1000.0)
    transaction.commit()
    assert service.cancel(cron)
    service.jobs[cron].completed = 1000.0
    transaction.commit()
    assert service.getStatus(cron) == 'cancelled'
    assert service.removeExpired({'cancelled': 0}, now=9000.0) == 0
    assert cron in service.jobs


def test_nothing_is_removed_without_a_policy(service, tasks):
    _finished(service, 3, 1000.0)
    assert service.removeExpired(now=10 ** 9) == 0
    assert len(service) == 3


def test_the_product_config_is_the_default(service, tasks):
    _finished(service, 3, 1000.0)
    zope.app.appsetup.product.setProductConfiguration(
        'zodbtasks', {'keep-completed': '1h'})
    assert service.removeExpired(now=1000.0 + 3599) == 0
    assert service.removeExpired(now=1000.0 + 3601) == 3


def test_bad_keep_is_refused(service):
    for keep, message in (([1], 'expected a dict'),
                          ({'queued': 5}, "'queued' is not a finished"),
                          ({'error': -1}, 'expected seconds >= 0')):
        with pytest.raises(ValueError, match=message):
            service.removeExpired(keep)


def test_removal_is_in_bounded_transactions(service, tasks, monkeypatch):
    ids = _finished(service, 25, 1000.0)
    monkeypatch.setattr(retention, 'BATCH', 10)
    commits = []

    class Counter:
        def beforeCompletion(self, txn):
            pass

        def afterCompletion(self, txn):
            if txn.status == 'Committed':
                commits.append(sum(1 for jobid in ids
                                   if jobid not in service.jobs))

        def newTransaction(self, txn):
            pass
    counter = Counter()
    tm = runner.transaction_manager_of(service)
    tm.registerSynch(counter)
    try:
        assert service.removeExpired({COMPLETED: 0}, now=2000.0) == 25
    finally:
        tm.unregisterSynch(counter)
    assert commits == [10, 20, 25]
    assert len(service) == 0 and service.checkIndex() == []


def test_pending_changes_are_refused(service, tasks):
    _finished(service, 1, 1000.0)
    service.add('echo', 1)
    with pytest.raises(PendingChangesError):
        service.removeExpired({COMPLETED: 0}, now=2000.0)


def test_unfolded_jobs_stay_until_folded(service, tasks):
    [jobid] = [service.add('echo', 1, now=1000.0)]
    transaction.commit()
    tm = runner.transaction_manager_of(service)
    claimed = runner.claim(service, tm, 1000.0, 1, 'w')
    runner.run_job(service, tm, claimed[0], 1000.0, 'w')
    assert service.jobs[jobid].status == COMPLETED   # not folded yet
    assert service.removeExpired({COMPLETED: 0}, now=9000.0) == 0
    runner.fold(service, tm, 'w', 1001.0)
    assert service.removeExpired({COMPLETED: 0}, now=9000.0) == 1


def test_processors_remove_what_is_past_its_keep_time(
        db, service, tasks, monkeypatch):
    zope.app.appsetup.product.setProductConfiguration(
        'zodbtasks', {'keep-completed': '0'})
    monkeypatch.setattr(retention, 'INTERVAL', 0.02)
    service.pollInterval = 0.02
    done = threading.Event()
    testing.register_task('last', lambda n: done.set())
    ids = [service.add('echo', n) for n in range(30)]
    service.add('last', None, after=ids)
    transaction.commit()
    service.startProcessing()
    assert done.wait(30)

    def gone():
        with testing.open_service(db, service._p_oid) as (_, tm, fresh):
            with tm:
                return len(fresh.jobs) == 0
    deadline = threading.Event()
    for _ in range(1500):          # bounded: 30 s
        if gone():
            break
        deadline.wait(0.02)
    service.stopProcessing()
    assert gone()
    transaction.abort()
    assert service.checkIndex() == []
