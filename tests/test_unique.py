"""uniqueKey: one waiting job per key (CMFActivity SQLDict's "only once
while pending"), exact across connections."""
import pytest
import transaction
from ZODB.POSException import ConflictError

from zodbtasks import runner
from zodbtasks import testing
from zodbtasks.interfaces import CANCELLED
from zodbtasks.interfaces import COMPLETED


def test_a_waiting_job_is_returned_instead_of_a_new_one(service, tasks):
    first = service.add('echo', 1, uniqueKey='reindex:doc-7')
    assert service.add('echo', 2, uniqueKey='reindex:doc-7') == first
    assert len(service.jobs) == 1
    assert service.jobs[first].input == 1
    assert service.findUnique('reindex:doc-7') == first
    assert service.findUnique('other') is None


def test_other_keys_and_no_key_make_jobs(service, tasks):
    ids = {service.add('echo', uniqueKey='a'), service.add('echo',
                                                           uniqueKey='b'),
           service.add('echo'), service.add('echo')}
    assert len(ids) == 4


@pytest.mark.parametrize('options', [{'startLater': True},
                                     {'at': 10 ** 9, 'now': 100.0}])
def test_start_later_and_delayed_jobs_hold_their_key(service, tasks,
                                                    options):
    first = service.add('echo', uniqueKey='k', **options)
    assert service.add('echo', uniqueKey='k') == first


def test_once_the_job_started_a_new_one_is_made(service, tasks):
    first = service.add('echo', uniqueKey='k')
    transaction.commit()
    tm = runner.transaction_manager_of(service)
    assert runner.claim(service, tm, 0, 1) == [first]
    assert service.findUnique('k') is None
    second = service.add('echo', uniqueKey='k')
    assert second != first and service.findUnique('k') == second


def test_a_finished_job_frees_its_key(service, tasks):
    first = service.add('echo', uniqueKey='k')
    transaction.commit()
    service.process(now=0)
    assert service.getStatus(first) == COMPLETED
    assert service.add('echo', uniqueKey='k') != first


def test_cancelling_or_deleting_frees_the_key(service, tasks):
    first = service.add('echo', uniqueKey='k')
    assert service.cancel(first) and service.getStatus(first) == CANCELLED
    second = service.add('echo', uniqueKey='k')
    assert second != first
    assert service.delete(second)
    assert service.findUnique('k') is None
    third = service.add('echo', 3, uniqueKey='k')
    assert service.jobs[third].input == 3 and len(service.jobs) == 2


def test_a_retried_job_takes_its_key_again_when_it_is_free(service, tasks):
    first = service.add('echo', uniqueKey='k')
    service.cancel(first)
    assert service.retry(first)
    assert service.findUnique('k') == first
    assert service.add('echo', uniqueKey='k') == first


def test_two_connections_adding_one_key_conflict(service, tasks):
    """Exact across processes: the second commit conflicts; its retry
    sees the first job and adds nothing."""
    service.add('echo', 'warm up', uniqueKey='other')  # the tree exists
    transaction.commit()
    db = service._p_jar.db()
    with testing.open_service(db, service._p_oid) as (_, tm1, one), \
            testing.open_service(db, service._p_oid) as (_, tm2, two):
        first = one.add('echo', 1, uniqueKey='k')
        two.add('echo', 2, uniqueKey='k')
        tm1.commit()
        with pytest.raises(ConflictError):
            tm2.commit()
        tm2.abort()
        assert two.add('echo', 2, uniqueKey='k') == first
        tm2.commit()
    transaction.begin()
    assert [job.input for job in service.jobs.values()
            if job.uniqueKey == 'k'] == [1]


@pytest.mark.parametrize('key', ['', 5, b'k', 'x' * 1001])
def test_a_bad_unique_key_is_refused(service, tasks, key):
    with pytest.raises(ValueError) as info:
        service.add('echo', uniqueKey=key)
    assert str(info.value).startswith('uniqueKey: ')
    assert len(service.jobs) == 0
