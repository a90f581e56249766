"""The ZCML security declarations follow the interfaces: every member of
IReadTaskService needs zodbtasks.ViewJobs, every member of
IWriteTaskService (and setting the settings) zodbtasks.ManageJobs, and
every job attribute of IJob/ICronJob zodbtasks.ViewJobs."""
import pytest
import zope.component
import zope.security
from zope.configuration import xmlconfig
from zope.security.checker import getCheckerForInstancesOf
from zope.security.interfaces import ForbiddenAttribute
from zope.security.proxy import ProxyFactory

import zodbtasks
from zodbtasks import interfaces
from zodbtasks.job import CronJob
from zodbtasks.job import Job
from zodbtasks.service import TaskService

VIEW = 'zodbtasks.ViewJobs'
MANAGE = 'zodbtasks.ManageJobs'


@pytest.fixture
def declared():
    """zodbtasks' configure.zcml loaded (the autouse fixture of conftest
    clears the registries and checkers after each test)."""
    context = xmlconfig.file('meta.zcml', zope.security)
    xmlconfig.file('meta.zcml', zope.component, context=context)
    xmlconfig.file('configure.zcml', zodbtasks, context=context)


def _names(interface):
    return sorted(interface.names(all=True))


@pytest.mark.parametrize('name', _names(interfaces.IReadTaskService))
def test_reading_a_service_needs_view(declared, name):
    checker = getCheckerForInstancesOf(TaskService)
    assert checker.permission_id(name) == VIEW


@pytest.mark.parametrize('name', _names(interfaces.IWriteTaskService))
def test_changing_a_service_needs_manage(declared, name):
    checker = getCheckerForInstancesOf(TaskService)
    assert checker.permission_id(name) == MANAGE


@pytest.mark.parametrize('name', ['pollInterval', 'leaseTimeout'])
def test_setting_the_settings_needs_manage(declared, name):
    checker = getCheckerForInstancesOf(TaskService)
    assert checker.setattr_permission_id(name) == MANAGE


@pytest.mark.parametrize('name', ['workers', 'stuckJobs', 'leaseTimeout',
                                  'sweep', 'checkIndex', 'rebuildIndex'])
def test_members_missing_in_0_1_are_declared(declared, name):
    # 0.1 listed attributes by hand and forgot these: through a security
    # proxy they were forbidden, not just protected.
    checker = getCheckerForInstancesOf(TaskService)
    assert checker.permission_id(name) in (VIEW, MANAGE)


def test_undeclared_internals_stay_forbidden(declared):
    proxied = ProxyFactory(TaskService())
    with pytest.raises(ForbiddenAttribute):
        proxied._queue
    with pytest.raises(ForbiddenAttribute):
        proxied._maps


@pytest.mark.parametrize('cls,interface', [(Job, interfaces.IJob),
                                           (CronJob, interfaces.ICronJob)])
def test_reading_a_job_needs_view(declared, cls, interface):
    checker = getCheckerForInstancesOf(cls)
    for name in _names(interface):
        assert checker.permission_id(name) == VIEW, name


def test_a_permitted_principal_reaches_the_members_through_a_proxy(
        declared, service):
    """Through a security proxy (as the ZMI views see a service), with a
    policy that grants every permission, every interface member works;
    0.1 forbade workers, stuckJobs, sweep and leaseTimeout outright."""
    import zope.security.management
    from zope.security.simplepolicies import PermissiveSecurityPolicy
    old = zope.security.management.setSecurityPolicy(PermissiveSecurityPolicy)
    zope.security.management.newInteraction()
    try:
        proxied = ProxyFactory(service)
        assert proxied.workers() == [] and proxied.stuckJobs() == []
        assert proxied.leaseTimeout == 60.0
        assert proxied.sweep() == 0
        assert proxied.checkIndex() == []
        proxied.pollInterval = 2.0
        assert service.pollInterval == 2.0
    finally:
        zope.security.management.endInteraction()
        zope.security.management.setSecurityPolicy(old)
