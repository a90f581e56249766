"""The task service in a real Zope 6 application: added from the ZMI to
a site, its ZMI tabs, and its jobs running as the user who added them,
in their site, with a request like theirs."""
import base64
import re
import urllib.parse

import persistent
import pytest
import transaction

pytest.importorskip('five.localsitemanager')

import zope.component  # noqa: E402
import zope.component.hooks  # noqa: E402
import zope.globalrequest  # noqa: E402
import zope.interface  # noqa: E402
from AccessControl import getSecurityManager  # noqa: E402
from Acquisition import aq_base  # noqa: E402
from five.localsitemanager import make_objectmanager_site  # noqa: E402
from OFS.userfolder import UserFolder  # noqa: E402
from plone.testing import zope as zope_testing  # noqa: E402
from zExceptions import BadRequest  # noqa: E402
from zExceptions import Unauthorized  # noqa: E402

from zodbtasks.interfaces import COMPLETED  # noqa: E402
from zodbtasks.interfaces import ERROR  # noqa: E402
from zodbtasks.interfaces import ITask  # noqa: E402
from zodbtasks.interfaces import ITaskService  # noqa: E402

#: The manager of tests/zope/conftest.py's application.
MANAGER = ('zope-manager', 'zope-manager-password')
TABS = {'@@jobs.html': 'zt-jobs', '@@overview.html': 'zt-overview',
        '@@groups.html': 'zt-groups', '@@addJob.html': 'zt-cronjob-form',
        '@@addCronJob.html': 'zt-cronjob-form', '@@workers.html': 'zt-workers',
        '@@tasks.html': 'zt-tasks-tab',
        '@@failures.html': 'zt-failures'}


@zope.interface.implementer(ITask)
class Probe:
    """Records what a job sees of Zope while it runs."""

    def __init__(self):
        self.seen = []

    def __call__(self, service, jobid, input):
        user = getSecurityManager().getUser()
        site = zope.component.hooks.getSite()
        request = zope.globalrequest.getRequest()
        self.seen.append({
            'user': user.getId(),
            'may_view': bool(getSecurityManager().checkPermission(
                'View', site)),
            'may_manage_jobs': bool(getSecurityManager().checkPermission(
                'zodbtasks: Manage jobs', service)),
            'site': site.getId(),
            'site_url': site.absolute_url(),
            'service_url': service.absolute_url(),
            'language': request.get('HTTP_ACCEPT_LANGUAGE'),
            'same_request': request is site.REQUEST,
            'traversed': self.traverse(site),
        })
        return 'ok'

    def traverse(self, site):
        try:
            return site.restrictedTraverse('tasks').getId()
        except Unauthorized:
            return 'refused'


@pytest.fixture
def probe(zope_layer):
    task = Probe()
    zope.component.provideUtility(task, ITask, name='probe')
    yield task
    zope.component.getGlobalSiteManager().unregisterUtility(
        task, ITask, name='probe')


@pytest.fixture
def site(app):
    app.manage_addFolder('site1')
    make_objectmanager_site(app.site1)
    app.site1._setObject('acl_users', UserFolder())
    app.site1.acl_users.userFolderAddUser('alice', 'alice-pw', ['Manager'],
                                          [])
    app.site1.acl_users.userFolderAddUser('bob', 'bob-pw', ['Member'], [])
    transaction.commit()
    return app.site1


@pytest.fixture
def service(app, site):
    b = browser(app)
    add_service(b, 'tasks')
    transaction.begin()
    return app.site1.tasks


def browser(app, user=MANAGER[0], password=MANAGER[1]):
    b = zope_testing.Browser(app)
    b.handleErrors = False
    if user:
        b.addHeader('Authorization', 'Basic ' + base64.b64encode(
            ('%s:%s' % (user, password)).encode()).decode())
    return b


def add_service(b, id, where='site1'):
    b.open('http://nohost/%s/manage_addProduct/zodbtasks.zope/'
           'manage_addTaskServiceForm' % where)
    b.getControl(name='id').value = id
    b.getControl(name='submit').click()


def add_job(b, input='"x"', url='http://nohost/site1/tasks', task='probe'):
    b.open(url + '/@@addJob.html')
    b.getControl(name='task').value = [task]
    b.getControl(name='input').value = input
    b.getControl(name='save').click()
    return int(re.search(r'/(\d+)(/|$)', b.url).group(1))


# -- adding a service ---------------------------------------------------------

def test_a_manager_adds_a_task_service_from_the_zmi(app, site):
    b = browser(app)
    add_service(b, 'tasks')
    assert b.url == 'http://nohost/site1/manage_main'
    assert 'tasks' in b.contents
    transaction.begin()
    service = app.site1.tasks
    assert ITaskService.providedBy(service)
    assert service.meta_type == 'Task Service'
    registered = app.site1.getSiteManager().getUtility(ITaskService, 'tasks')
    assert registered.aq_base is service.aq_base
    assert aq_base(service.getSiteManager()) \
        is aq_base(app.site1.getSiteManager())
    assert service._zope_path == ('', 'site1', 'tasks')


def test_a_folder_that_is_not_a_site_is_refused_with_the_reason(app, site):
    app.manage_addFolder('plain')
    transaction.commit()
    b = browser(app)
    b.open('http://nohost/plain/manage_addProduct/zodbtasks.zope/'
           'manage_addTaskServiceForm')
    assert 'This folder is not a site' in b.contents
    assert 'name="id"' not in b.contents
    transaction.begin()
    from zodbtasks.zope.service import manage_addTaskService
    with pytest.raises(BadRequest) as info:
        manage_addTaskService(app.plain.manage_addProduct['zodbtasks.zope'],
                              'tasks')
    assert '/plain is not a site' in str(info.value)
    assert 'tasks' not in app.plain.objectIds()


def test_adding_needs_a_post_with_the_forms_csrf_token(app, site):
    b = browser(app)
    url = ('http://nohost/site1/manage_addProduct/zodbtasks.zope/'
           'manage_addTaskService')
    with pytest.raises(BadRequest, match='needs a POST'):
        b.open(url + '?id=tasks')
    with pytest.raises(BadRequest, match='CSRF check failed'):
        b.post(url, 'id=tasks&_csrf_token=1.forged')
    transaction.begin()
    assert 'tasks' not in app.site1.objectIds()


def test_anonymous_may_not_add_or_see(app, service):
    b = browser(app, user=None)
    b.raiseHttpErrors = False
    b.handleErrors = True
    b.open('http://nohost/site1/tasks/@@jobs.html')
    assert b.headers['status'].startswith('401')
    b.open('http://nohost/site1/manage_addProduct/zodbtasks.zope/'
           'manage_addTaskServiceForm')
    assert b.headers['status'].startswith('401')


def test_a_member_without_the_permissions_sees_no_tab(app, service):
    b = browser(app, 'bob', 'bob-pw')
    b.raiseHttpErrors = False
    b.handleErrors = True
    for tab in TABS:
        b.open('http://nohost/site1/tasks/' + tab)
        assert b.headers['status'].startswith('401'), tab


def test_rename_and_delete_move_the_registration(app, service):
    zope_testing.login(app['acl_users'], MANAGER[0])
    app.site1.manage_renameObject('tasks', 'jobs')
    transaction.commit()
    sm = app.site1.getSiteManager()
    assert sm.queryUtility(ITaskService, 'tasks') is None
    assert sm.getUtility(ITaskService, 'jobs').aq_base \
        is app.site1.jobs.aq_base
    assert app.site1.jobs._zope_path == ('', 'site1', 'jobs')
    app.site1.manage_delObjects(['jobs'])
    transaction.commit()
    assert sm.queryUtility(ITaskService, 'jobs') is None


def test_a_pasted_copy_is_registered_under_its_own_id(app, service):
    zope_testing.login(app['acl_users'], MANAGER[0])
    app.manage_addFolder('site2')
    make_objectmanager_site(app.site2)
    transaction.commit()
    cookie = app.site1.manage_copyObjects(['tasks'])
    app.site2.manage_pasteObjects(cookie)
    app.site2.manage_pasteObjects(cookie)
    transaction.commit()
    sm = app.site2.getSiteManager()
    assert sm.getUtility(ITaskService, 'tasks').aq_base \
        is app.site2.tasks.aq_base
    assert sm.getUtility(ITaskService, 'copy_of_tasks').aq_base \
        is app.site2.copy_of_tasks.aq_base
    assert app.site2.copy_of_tasks._zope_path == ('', 'site2',
                                                  'copy_of_tasks')


def test_a_name_registered_for_another_service_is_refused(app, site):
    from zodbtasks.service import TaskService
    other = TaskService()
    app.site1.getSiteManager().registerUtility(other, ITaskService, 'tasks')
    transaction.commit()
    b = browser(app)
    with pytest.raises(BadRequest, match="a task service named 'tasks' is "
                       "already registered in /site1"):
        add_service(b, 'tasks')
    transaction.begin()
    assert 'tasks' not in app.site1.objectIds()


# -- the tabs -----------------------------------------------------------------

def test_every_tab_renders_in_the_zmi_look(app, service):
    b = browser(app)
    for tab, marker in TABS.items():
        b.open('http://nohost/site1/tasks/' + tab)
        assert 'id="%s"' % marker in b.contents, tab
        assert 'class="zmi ' in b.contents, tab       # the ZMI's page
        assert 'class="nav-link active" href="%s"' % tab in b.contents, tab
    b.open('http://nohost/site1/tasks/manage_workspace')
    assert b.url.endswith('/tasks/@@jobs.html')


def test_a_job_added_in_the_zmi_has_its_page_with_escaped_input(
        app, service, probe):
    b = browser(app)
    jobid = add_job(b, input='"<script>alert(1)</script>"')
    assert b.url.startswith('http://nohost/site1/tasks/%d' % jobid)
    assert '<script>alert(1)' not in b.contents
    assert '&lt;script&gt;alert(1)' in b.contents
    assert 'class="zmi ' in b.contents
    b.open('http://nohost/site1/tasks/@@jobs.html')
    assert 'href="http://nohost/site1/tasks/%d"' % jobid in b.contents


def test_an_action_without_the_csrf_token_changes_nothing(
        app, service, probe):
    b = browser(app)
    jobid = add_job(b)
    b.raiseHttpErrors = False
    b.post('http://nohost/site1/tasks/%d' % jobid, 'cancel=Cancel')
    assert b.headers['status'].startswith('403')
    transaction.begin()
    assert app.site1.tasks.getStatus(jobid) == 'queued'
    b.open('http://nohost/site1/tasks/%d' % jobid)
    b.getControl(name='cancel').click()
    transaction.begin()
    assert app.site1.tasks.getStatus(jobid) == 'cancelled'


def test_a_missing_job_is_not_found(app, service):
    b = browser(app)
    b.raiseHttpErrors = False
    b.handleErrors = True
    b.open('http://nohost/site1/tasks/12345')
    assert b.headers['status'].startswith('404')


# -- running as the user who added the job -----------------------------------

VHOST = 'http://nohost/VirtualHostBase/https/example.org:443/site1/' \
    'VirtualHostRoot'


def test_a_job_runs_as_its_user_in_its_site_with_its_virtual_host(
        app, service, probe):
    b = browser(app, 'alice', 'alice-pw')
    b.addHeader('Accept-Language', 'de-DE,de;q=0.9')
    b.open(VHOST + '/tasks/@@addJob.html')
    token = b.getControl(name='_csrf_token').value
    # What the proxy in front of Zope would send for the form's POST to
    # https://example.org/tasks/@@addJob.html:
    b.followRedirects = False
    b.post(VHOST + '/tasks/@@addJob.html', urllib.parse.urlencode({
        'task': 'probe', 'input': '"x"', 'save': 'Add', '_csrf_token': token}))
    location = b.headers['Location']
    assert location.startswith('https://example.org/tasks/')
    jobid = int(location.split('/')[4])
    transaction.begin()
    job = app.site1.tasks.jobs[jobid]
    assert job.runAs == 'alice'
    facts = dict(job.runContext)
    assert facts['userFolder'] == ('', 'site1', 'acl_users')
    assert facts['site'] == ('', 'site1')
    assert facts['serverURL'] == 'https://example.org'
    assert facts['virtualRoot'] == ('', 'site1')
    assert facts['language'] == 'de-DE,de;q=0.9'
    assert app.site1.tasks.process() == 1
    assert app.site1.tasks.getStatus(jobid) == COMPLETED
    assert probe.seen == [{
        'user': 'alice', 'may_view': True, 'may_manage_jobs': True,
        'site': 'site1', 'site_url': 'https://example.org',
        'service_url': 'https://example.org/tasks',
        'language': 'de-DE,de;q=0.9', 'same_request': True,
        'traversed': 'tasks'}]
    # Nothing of the job's run is left in this thread.
    assert zope.globalrequest.getRequest() is None
    assert zope.component.hooks.getSite() is None


def test_a_removed_user_ends_the_job_in_error_and_it_never_runs(
        app, service, probe):
    b = browser(app, 'alice', 'alice-pw')
    jobid = add_job(b)
    transaction.begin()
    app.site1.acl_users.userFolderDelUsers(['alice'])
    transaction.commit()
    app.site1.tasks.process()
    assert app.site1.tasks.getStatus(jobid) == ERROR
    assert app.site1.tasks.getError(jobid) == (
        "user 'alice' no longer exists (in /site1/acl_users)")
    assert probe.seen == []


def test_a_job_added_by_code_without_a_request_runs_in_the_services_site(
        app, service, probe):
    jobid = service.add('probe', runAs=None)
    transaction.commit()
    service.process()
    assert service.getStatus(jobid) == COMPLETED
    seen, = probe.seen
    assert seen['user'] is None or seen['user'] == 'Anonymous User'
    assert seen['site'] == 'site1'
    assert seen['service_url'] == 'http://localhost/site1/tasks'
    assert seen['traversed'] == 'refused'    # Anonymous may not
    assert not seen['may_manage_jobs']


# -- autostart and processor threads -------------------------------------------

@pytest.fixture
def product_config():
    import App.config
    config = App.config.getConfiguration()
    before = getattr(config, 'product_config', None)
    config.product_config = dict(before or {})
    yield config.product_config
    config.product_config = before


def wait_for(condition, timeout=30.0):
    import threading
    event = threading.Event()
    for _ in range(int(timeout / 0.05)):
        transaction.begin()
        if condition():
            return True
        event.wait(0.05)
    return False


@pytest.mark.parametrize('directive', ['site1@tasks', 'site1@*', '*@*',
                                       '*@tasks'])
def test_autostart_runs_the_jobs_as_their_user_in_a_processor_thread(
        app, service, probe, product_config, zope_layer, directive):
    from zope.processlifetime import DatabaseOpenedWithRoot
    from zodbtasks import processor
    from zodbtasks import startup
    product_config['zodbtasks'] = {'autostart': directive}
    startup.bootStrapSubscriber(DatabaseOpenedWithRoot(zope_layer['zodbDB']))
    try:
        transaction.begin()
        assert app.site1.tasks.isProcessing()
        b = browser(app, 'alice', 'alice-pw')
        jobid = add_job(b)
        assert wait_for(
            lambda: app.site1.tasks.getStatus(jobid) == COMPLETED)
        assert [seen['user'] for seen in probe.seen] == ['alice']
        assert probe.seen[0]['service_url'] == 'http://nohost/site1/tasks'
    finally:
        processor.stop_all()


def test_processors_off_starts_nothing(app, service, product_config,
                                       zope_layer):
    from zope.processlifetime import DatabaseOpenedWithRoot
    from zodbtasks import startup
    product_config['zodbtasks'] = {'autostart': '*@*', 'processors': 'off'}
    startup.bootStrapSubscriber(DatabaseOpenedWithRoot(zope_layer['zodbDB']))
    transaction.begin()
    assert not app.site1.tasks.isProcessing()


def test_a_root_service_directive_says_the_root_is_not_a_site(
        app, service, product_config, zope_layer, caplog):
    from zope.processlifetime import DatabaseOpenedWithRoot
    from zodbtasks import startup
    product_config['zodbtasks'] = {'autostart': '@tasks'}
    startup.bootStrapSubscriber(DatabaseOpenedWithRoot(zope_layer['zodbDB']))
    transaction.begin()
    assert not app.site1.tasks.isProcessing()
    assert 'the root folder is not a site' in caplog.text


@zope.interface.implementer(ITask)
class LocalTask(persistent.Persistent):
    """A task stored in a site's own component registry."""

    def __call__(self, service, jobid, input):
        return 'local %s in %s' % (input, service.getSite().getId())


def test_a_task_of_the_sites_own_registry_runs(app, service):
    app.site1.getSiteManager().registerUtility(LocalTask(), ITask,
                                               'local-only')
    transaction.commit()
    assert 'local-only' in service.getAvailableTasks()
    jobid = service.add('local-only', 'hello', runAs=None)
    transaction.commit()
    service.process()
    assert service.getStatus(jobid) == COMPLETED
    assert service.getResult(jobid) == 'local hello in site1'


def test_a_users_jobs_carry_their_owner_tag(app, service, probe):
    from zodbtasks.zope.service import owner_tag
    b = browser(app, 'alice', 'alice-pw')
    jobid = add_job(b)
    transaction.begin()
    tag = owner_tag('alice', service.jobs[jobid].runContext)
    assert tag == 'by:alice@/site1/acl_users'
    assert tag in service.jobs[jobid].tags
    total, jobs = service.queryJobs(tag=tag)
    assert total == 1 and jobs[0].id == jobid
    assert owner_tag('x' * 300).startswith('by:x') \
        and len(owner_tag('x' * 300)) == 200
    system = service.add('probe', runAs=None, tag='mine')
    assert service.jobs[system].tags == ('mine',)


def test_the_jobs_tab_filters_sorts_and_pages_in_zope(app, service, probe):
    for number in range(3):
        service.add('probe', number, runAs=None)
    service.add('probe', 'later', runAs=None, startLater=True)
    transaction.commit()
    b = browser(app)
    b.open('http://nohost/site1/tasks/@@jobs.html?status=startlater')
    assert len(re.findall(r'id="zt-job-(\d+)"', b.contents)) == 1
    b.open('http://nohost/site1/tasks/@@jobs.html?sort=status&order=asc'
           '&size=2')
    assert len(re.findall(r'id="zt-job-(\d+)"', b.contents)) == 2
    assert 'id="zt-next"' in b.contents


def test_request_facts_a_client_chooses_are_kept_small():
    from zodbtasks.zope import environment

    class Request:
        other = {'SERVER_URL': 'http://' + 'h' * 10000,
                 'VirtualRootPhysicalPath': ('',) + ('x' * 900,) * 300}
        _script = ['s'] * 1000
        environ = {'HTTP_ACCEPT_LANGUAGE': 'de,' * 5000}
    facts = dict(environment.request_facts(Request()))
    assert len(facts['serverURL']) == environment.FACT_LIMIT
    assert len(facts['virtualRoot']) == environment.PATH_LIMIT
    assert {len(name) for name in facts['virtualRoot'][1:]} \
        == {environment.FACT_LIMIT}
    assert len(facts['script']) == environment.PATH_LIMIT
    assert len(facts['language']) == environment.FACT_LIMIT


def test_the_zope_jobs_tab_has_its_live_data_and_script(app, service, probe):
    import json
    jobid = service.add('probe', 1, runAs=None)
    transaction.commit()
    b = browser(app)
    b.open('http://nohost/site1/tasks/@@jobs.json')
    data = json.loads(b.contents)
    assert [row['id'] for row in data['rows']] == [jobid]
    assert data['counts']['queued'] == 1
    b.open('http://nohost/site1/tasks/@@jobs.html')
    assert 'id="zt-live"' in b.contents
    src = re.search(r'src="([^"]*live\.js)"', b.contents).group(1)
    b.open(src)
    assert 'zt-live' in (b.contents if isinstance(b.contents, str)
                         else b.contents.decode())


# -- readable values and the Failures tab (issue 12) --------------------------

class Failing:
    def __call__(self, service, jobid, input):
        raise ValueError('bad input %s' % input)


@pytest.fixture
def failing(zope_layer):
    task = Failing()
    zope.component.provideUtility(task, ITask, name='failing')
    yield task
    zope.component.getGlobalSiteManager().unregisterUtility(
        task, ITask, name='failing')


def test_the_failures_tab_groups_and_retries_in_zope(app, service, failing):
    jobids = [service.add('failing', number, runAs=None)
              for number in (1, 2)]
    transaction.commit()
    service.process()
    transaction.begin()
    b = browser(app)
    b.open('http://nohost/site1/tasks/@@failures.html')
    assert 'class="zmi ' in b.contents
    assert 'bad input &lt;n&gt;' in b.contents
    b.getControl('Retry all').click()
    assert 'Retry 2 failed jobs?' in b.contents
    b.getControl(name='confirm').click()
    assert '2 failed jobs queued again.' in b.contents
    transaction.begin()
    assert {service.getStatus(jobid) for jobid in jobids} == {'queued'}


def test_a_zope_job_page_has_attempts_and_a_folded_traceback(
        app, service, failing):
    jobid = service.add('failing', 1, runAs=None)
    transaction.commit()
    service.process()
    transaction.begin()
    b = browser(app)
    b.open('http://nohost/site1/tasks/%d' % jobid)
    assert 'id="zt-attempts"' in b.contents
    assert 'frames of the transaction manager folded' in b.contents
    assert 'id="zt-traceback-full"' in b.contents
    assert 'class="nav-link" href="@@failures.html"' in b.contents
    src = re.search(r'src="([^"]*readable\.js)"', b.contents).group(1)
    b.open(src)
    assert 'zodbtasksReadable' in (b.contents if isinstance(b.contents, str)
                                   else b.contents.decode())


def test_the_zope_jobs_tab_searches_and_confirms_bulk_actions(
        app, service, probe):
    ids = [service.add('probe', 'apple %d' % n, runAs=None)
           for n in range(3)]
    service.add('probe', 'pear', runAs=None)
    transaction.commit()
    b = browser(app)
    b.open('http://nohost/site1/tasks/@@jobs.html?q=apple')
    found = [int(i) for i in re.findall(r'id="zt-job-(\d+)"', b.contents)]
    assert found == list(reversed(ids))
    b.open('http://nohost/site1/tasks/@@bulk.html?action=cancel&q=apple')
    assert 'Cancel 3 jobs matching: text=apple?' in b.contents
    assert 'class="zmi ' in b.contents
    b.getControl(name='confirm').click()
    assert '@@bulk.html?job=' in b.url
    assert 'id="zt-bulk-status"' in b.contents
