"""activate(obj, **options).method(*args, **kw): a persistent reference,
the method later, in the object's site."""
import pytest
import transaction
from zope.interface.interfaces import ComponentLookupError

from zodbtasks import activate
from zodbtasks import testing
from zodbtasks.activation import METHOD_TASK
from zodbtasks.interfaces import COMPLETED
from zodbtasks.interfaces import ERROR
from zodbtasks.interfaces import InputError

from activation_content import Document


@pytest.fixture
def doc(site, service, quiet):
    site['doc'] = Document()
    transaction.commit()
    return site['doc']


def test_a_method_runs_later_on_the_object(service, doc):
    jobid = activate(doc, priority=2).setTitle('Hello', suffix='!')
    job = service.jobs[jobid]
    assert job.task == METHOD_TASK and job.priority == 2
    assert doc.title == ''
    transaction.commit()
    assert service.process() == 1
    assert doc.title == 'Hello!'
    assert service.getResult(jobid) == 'Hello!'


def test_the_reference_survives_a_move(site, service, doc):
    jobid = activate(doc).setTitle('moved')
    transaction.commit()
    site['renamed'] = doc
    del site['doc']
    transaction.commit()
    service.process()
    assert site['renamed'].title == 'moved'
    assert service.getStatus(jobid) == COMPLETED


def test_a_removed_object_is_not_called(site, service, doc):
    jobid = activate(doc).setTitle('never')
    transaction.commit()
    del site['doc']
    transaction.commit()
    service.process()
    assert service.getStatus(jobid) == ERROR
    assert service.getError(jobid).startswith('object <')
    assert service.getError(jobid).endswith(' no longer exists in the site')
    assert doc.title == ''


def test_unique_gives_sqldict_semantics(service, doc):
    first = activate(doc, unique=True).reindex()
    assert activate(doc, unique=True).reindex() == first
    other = activate(doc, unique=True).setTitle('x')
    assert other != first
    transaction.commit()
    service.process()
    assert doc.indexed == 1
    assert activate(doc, unique=True).reindex() != first


def test_persistent_arguments_of_the_same_database(site, service, doc):
    site['other'] = Document()
    jobid = activate(doc).setTitle('x', suffix='')
    transaction.commit()
    assert service.process() == 1 and service.getStatus(jobid) == COMPLETED
    with pytest.raises(InputError) as info:
        activate(doc).setTitle(Document())
    assert 'argument 1' in str(info.value)
    assert 'not stored in the database' in str(info.value)


def test_an_object_added_in_this_transaction_is_accepted(site, service):
    site['fresh'] = fresh = Document()
    jobid = activate(fresh).setTitle('fresh')
    transaction.commit()
    service.process()
    assert site['fresh'].title == 'fresh'
    assert service.getStatus(jobid) == COMPLETED


def test_refusals(site, service, doc):
    with pytest.raises(InputError):
        activate(Document()).setTitle('x')        # not stored
    with pytest.raises(InputError):
        activate(object())
    with pytest.raises(AttributeError):
        activate(doc).noSuchMethod()
    assert len(service) == 0


def test_the_service_is_found_in_the_objects_site(site, service, doc):
    second = testing.add_service(site, 'second')
    transaction.commit()
    with pytest.raises(ComponentLookupError) as info:
        activate(doc).reindex()
    assert '2 task services in the site /site1' in str(info.value)
    jobid = activate(doc, service='second').reindex()
    assert jobid in second.jobs
    assert activate(doc, service=service).reindex() in service.jobs
    with pytest.raises(ComponentLookupError):
        activate(doc, service='nosuch').reindex()
