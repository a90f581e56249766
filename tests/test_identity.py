"""Jobs run as the principal that added them (``runAs``)."""
import contextlib

import pytest
import transaction
import zope.component
import zope.interface
from zope.authentication.interfaces import IAuthentication
from zope.authentication.interfaces import PrincipalLookupError
from zope.security.management import endInteraction
from zope.security.management import newInteraction
from zope.security.management import queryInteraction

from zodbtasks import testing
from zodbtasks.identity import Participation
from zodbtasks.interfaces import COMPLETED
from zodbtasks.interfaces import ITask
from zodbtasks.service import TaskService
from zodbtasks.interfaces import ERROR


class _Principal:
    def __init__(self, id):
        self.id = id
        self.title = id
        self.description = ''


@zope.interface.implementer(IAuthentication)
class _Authentication:
    def __init__(self, *ids):
        self.principals = {id: _Principal(id) for id in ids}

    def getPrincipal(self, id):
        try:
            return self.principals[id]
        except KeyError:
            raise PrincipalLookupError(id) from None

    def authenticate(self, request):
        return None

    def unauthenticatedPrincipal(self):
        return None

    def unauthorized(self, id, request):
        pass

    def getPrincipals(self, name):
        return []


@pytest.fixture
def users(service, quiet):
    auth = _Authentication('alice', 'bob')
    zope.component.provideUtility(auth, IAuthentication)
    seen = []

    def whoami(input):
        interaction = queryInteraction()
        seen.append(None if interaction is None else [
            p.principal.id for p in interaction.participations])
        return seen[-1]
    testing.register_task('whoami', whoami)
    yield auth, seen
    zope.component.getGlobalSiteManager().unregisterUtility(
        auth, IAuthentication)


def _as(principal_id):
    newInteraction(Participation(_Principal(principal_id)))


def test_a_job_runs_as_the_principal_that_added_it(service, users):
    _, seen = users
    _as('alice')
    try:
        jobid = service.add('whoami', now=100.0)
        other = service.add('whoami', runAs='bob', now=100.0)
        system = service.add('whoami', runAs=None, now=100.0)
    finally:
        endInteraction()
    assert service.jobs[jobid].runAs == 'alice'
    assert service.jobs[other].runAs == 'bob'
    assert service.jobs[system].runAs is None
    transaction.commit()
    assert service.process(now=200.0) == 3
    assert seen == [['alice'], ['bob'], None]
    assert queryInteraction() is None


def test_without_an_interaction_a_job_runs_as_the_system(service, users):
    _, seen = users
    jobid = service.add('whoami', now=100.0)
    assert service.jobs[jobid].runAs is None
    transaction.commit()
    service.process(now=200.0)
    assert seen == [None]


def test_the_callers_interaction_comes_back(service, users):
    _, seen = users
    jobid = service.add('whoami', runAs='bob', now=100.0)
    transaction.commit()
    _as('alice')
    try:
        service.process(now=200.0)
        assert [p.principal.id for p in queryInteraction().participations] \
            == ['alice']
    finally:
        endInteraction()
    assert seen == [['bob']] and service.getStatus(jobid) == COMPLETED


def test_a_principal_that_no_longer_exists_fails_the_job(service, users):
    auth, seen = users
    jobid = service.add('whoami', runAs='bob', now=100.0)
    del auth.principals['bob']
    transaction.commit()
    service.process(now=200.0)
    assert service.getStatus(jobid) == ERROR
    assert service.getError(jobid) == "principal 'bob' no longer exists"
    assert seen == []                       # it never ran as anybody


def test_a_cron_job_runs_as_its_adder(service, users):
    _as('alice')
    try:
        jobid = service.addCronJob('whoami', cron='* * * * *', now=100.0)
    finally:
        endInteraction()
    assert service.jobs[jobid].runAs == 'alice'


@pytest.mark.parametrize('value', ['', 5, object()])
def test_bad_run_as_is_refused(service, users, value):
    with pytest.raises(ValueError) as info:
        service.add('whoami', runAs=value)
    assert 'runAs: expected a principal id or None' in str(info.value)
    assert len(service) == 0


@zope.interface.implementer(ITask)
class _Bound:
    def __init__(self):
        self.services = []

    def __call__(self, service, jobid, input):
        self.services.append(service)


def test_a_service_class_chooses_what_a_job_records_and_runs_in(
        service, users, monkeypatch):
    # IJobEnvironment: what the Zope product's service class overrides.
    recorded, entered = [], []
    place = (('site', ('', 'plone')),)

    def capture(self, runAs):
        recorded.append(runAs)
        return 'carol', place

    @contextlib.contextmanager
    def environment(self, job):
        entered.append((job.runAs, job.runContext))
        yield 'the service as the task sees it'
    monkeypatch.setattr(TaskService, 'captureIdentity', capture)
    monkeypatch.setattr(TaskService, 'jobEnvironment', environment)
    task = testing.register_task('bound', _Bound())
    jobid = service.add('bound', runAs='dave', now=100.0)
    job = service.jobs[jobid]
    assert recorded == ['dave']
    assert (job.runAs, job.runContext) == ('carol', place)
    transaction.commit()
    service.process(now=200.0)
    assert service.getStatus(jobid) == COMPLETED
    assert entered == [('carol', place)]
    assert task.services == ['the service as the task sees it']


def test_a_chain_step_runs_as_and_where_the_job_before_it(service, users):
    _, seen = users
    jobid = service.add('whoami', runAs='bob', now=100.0,
                        then=('whoami', {}))
    service.jobs[jobid].runContext = (('userFolder', ('', 'acl_users')),)
    transaction.commit()
    service.process(now=200.0)
    steps = [job for job in service.jobs.values() if job.id != jobid]
    assert [(s.runAs, s.runContext) for s in steps] \
        == [('bob', (('userFolder', ('', 'acl_users')),))]
    assert seen == [['bob'], ['bob']]
