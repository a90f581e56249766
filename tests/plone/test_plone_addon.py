"""The Plone add-on in a real Plone 6 site: the profile, the control
panel, the "my jobs" viewlet and its JSON, the @jobs services, the
background publishing example."""
import base64
import json

import pytest
import transaction

import zope.component  # noqa: E402
import zope.component.hooks  # noqa: E402
import zope.globalrequest  # noqa: E402
import zope.interface  # noqa: E402
from plone import api  # noqa: E402
from plone.app.testing import SITE_OWNER_NAME  # noqa: E402
from plone.app.testing import SITE_OWNER_PASSWORD  # noqa: E402
from plone.app.testing import TEST_USER_ID  # noqa: E402
from plone.app.testing import TEST_USER_PASSWORD  # noqa: E402
from plone.app.testing import login  # noqa: E402
from plone.app.testing import setRoles  # noqa: E402
from plone.testing import zope as zope_testing  # noqa: E402

from zodbtasks.interfaces import COMPLETED  # noqa: E402
from zodbtasks.interfaces import ERROR  # noqa: E402
from zodbtasks.interfaces import ITask  # noqa: E402
from zodbtasks.interfaces import ITaskService  # noqa: E402


@zope.interface.implementer(ITask)
class WhoAmI:
    def __call__(self, service, jobid, input):
        if input == 'fail':
            raise ValueError('it <b>failed</b>')
        portal_state = api.content.get_view(
            'plone_portal_state', api.portal.get(),
            zope.globalrequest.getRequest())
        return {'user': api.user.get_current().getId(),
                'portal_state_url': portal_state.portal_url(),
                'portal': api.portal.get().getId(),
                'portal_url': api.portal.get().absolute_url(),
                'may_modify': bool(api.user.has_permission(
                    'Modify portal content', obj=api.portal.get()))}


@pytest.fixture(autouse=True)
def whoami(portal):
    task = WhoAmI()
    zope.component.provideUtility(task, ITask, name='whoami')
    yield task
    zope.component.getGlobalSiteManager().unregisterUtility(
        task, ITask, name='whoami')


def browser(portal, user=None, password=None):
    b = zope_testing.Browser(portal.aq_parent)
    b.handleErrors = False
    if user:
        b.addHeader('Authorization', 'Basic ' + base64.b64encode(
            ('%s:%s' % (user, password)).encode()).decode())
    return b


def member_browser(portal):
    return browser(portal, 'test-user', TEST_USER_PASSWORD)


def manager_browser(portal):
    return browser(portal, SITE_OWNER_NAME, SITE_OWNER_PASSWORD)


def add_as(portal, userid, task='whoami', input=None):
    """Add a job as ``userid`` (logged in, in a request of the site)."""
    login(portal, userid)
    try:
        return portal.tasks.add(task, input)
    finally:
        zope_testing.logout()


# -- the profile --------------------------------------------------------------

def test_the_profile_makes_and_registers_the_sites_service(portal):
    service = portal.tasks
    assert ITaskService.providedBy(service)
    sm = portal.getSiteManager()
    assert sm.getUtility(ITaskService, 'tasks').aq_base is service.aq_base
    roles = {r['name'] for r in portal.rolesOfPermission(
        'zodbtasks: Manage jobs') if r['selected']}
    assert roles == {'Manager', 'Site Administrator'}
    metrics = {r['name'] for r in portal.rolesOfPermission(
        'zodbtasks: View metrics') if r['selected']}
    assert metrics == {'Manager', 'Site Administrator'}
    own = {r['name'] for r in portal.rolesOfPermission(
        'zodbtasks: View own jobs') if r['selected']}
    assert {'Member', 'Manager', 'Site Administrator'} <= own


def test_uninstalling_removes_the_service_and_its_registration(portal):
    setRoles(portal, TEST_USER_ID, ['Manager'])
    login(portal, 'test-user')
    installer = api.portal.get_tool('portal_setup')
    installer.runAllImportStepsFromProfile('profile-zodbtasks:uninstall')
    assert 'tasks' not in portal.objectIds()
    assert portal.getSiteManager().queryUtility(ITaskService, 'tasks') \
        is None
    assert 'zodbtasks' not in [c.getId() for c in api.portal.get_tool(
        'portal_controlpanel').listActions()]


# -- the control panel ----------------------------------------------------------

def test_the_control_panel_shows_counts_and_pauses(portal):
    add_as(portal, 'test-user')
    transaction.commit()
    b = manager_browser(portal)
    b.open(portal.absolute_url() + '/@@zodbtasks-controlpanel')
    assert 'id="zt-count-queued"' in b.contents
    row = b.contents.split('id="zt-count-queued"')[1].split('</tr>')[0]
    assert '<td>1</td>' in row
    assert '/tasks/@@jobs.html' in b.contents
    assert '/tasks/@@failures.html' in b.contents
    b.getControl('Pause the service').click()
    assert 'The service is paused' in b.contents
    transaction.begin()
    assert portal.tasks.isPaused()
    b.getControl('Resume the service').click()
    transaction.begin()
    assert not portal.tasks.isPaused()


def test_the_control_panel_is_for_managers_only(portal):
    b = member_browser(portal)
    b.raiseHttpErrors = False
    b.handleErrors = True
    b.open(portal.absolute_url() + '/@@zodbtasks-controlpanel')
    assert 'insufficient-privileges' in b.url      # Plone's answer
    assert 'zt-counts' not in b.contents


def test_the_control_panel_refuses_a_post_without_the_authenticator(portal):
    b = manager_browser(portal)
    with pytest.raises(Exception) as info:
        b.post(portal.absolute_url() + '/@@zodbtasks-controlpanel',
               'pause=1')
    assert 'Forbidden' in type(info.value).__name__ + str(info.value)
    transaction.begin()
    assert not portal.tasks.isPaused()


# -- running as the user -------------------------------------------------------

def test_a_members_job_runs_as_the_member_in_the_portal(portal):
    jobid = add_as(portal, 'test-user')
    transaction.commit()
    portal.tasks.process()
    assert portal.tasks.getStatus(jobid) == COMPLETED
    result = portal.tasks.getResult(jobid)
    assert result['user'] == TEST_USER_ID
    assert result['portal'] == portal.getId()
    assert result['portal_url'] == portal.absolute_url()
    assert result['portal_state_url'] == portal.absolute_url()  # a view
    assert result['may_modify'] is False          # a Member may not


# -- the viewlet and its JSON --------------------------------------------------

def test_the_viewlet_shows_the_users_jobs_and_failures_until_dismissed(
        portal):
    waiting = add_as(portal, 'test-user')
    failing = add_as(portal, 'test-user', input='fail')
    transaction.commit()
    portal.tasks.process()   # runs both; the failure stays
    waiting = add_as(portal, 'test-user')
    transaction.commit()
    b = member_browser(portal)
    b.open(portal.absolute_url())
    assert 'id="zodbtasks-myjobs"' in b.contents
    section = b.contents.split('id="zodbtasks-myjobs"')[1].split(
        '</section>')[0]
    assert 'hidden' not in section.split('>')[0]
    assert 'data-job="%d"' % waiting in section
    assert 'it &lt;b&gt;failed&lt;/b&gt;' in section      # escaped
    b.open(portal.absolute_url() + '/@@zodbtasks-my-jobs')
    state = json.loads(b.contents)
    assert [j['id'] for j in state['queued']] == [waiting]
    assert [j['id'] for j in state['failures']] == [failing]
    assert state['failures'][0]['url'].endswith(
        '/@@zodbtasks-job?id=%d' % failing)
    # Dismissing needs a POST with the authenticator.
    b.open(portal.absolute_url())
    token = b.contents.split('name="_authenticator"')[1].split(
        'value="')[1].split('"')[0]
    b.post(portal.absolute_url() + '/@@zodbtasks-dismiss',
           'id=%d&_authenticator=%s' % (failing, token))
    b.open(portal.absolute_url() + '/@@zodbtasks-my-jobs')
    assert json.loads(b.contents)['failures'] == []


def test_the_json_lists_completions_since_the_last_answer(portal):
    b = member_browser(portal)
    b.open(portal.absolute_url() + '/@@zodbtasks-my-jobs')
    since = json.loads(b.contents)['time']
    jobid = add_as(portal, 'test-user')
    transaction.commit()
    portal.tasks.process()
    b.open(portal.absolute_url() + '/@@zodbtasks-my-jobs?since=%s' % since)
    state = json.loads(b.contents)
    assert [j['id'] for j in state['completed']] == [jobid]
    b.open(portal.absolute_url() + '/@@zodbtasks-my-jobs?since=%s'
           % state['time'])
    assert json.loads(b.contents)['completed'] == []


def test_nobody_sees_another_users_jobs(portal):
    api.user.create(email='bob@example.org', username='bob',
                    password='bob-password-123', roles=('Member',))
    theirs = add_as(portal, 'bob')
    transaction.commit()
    b = member_browser(portal)
    b.open(portal.absolute_url() + '/@@zodbtasks-my-jobs')
    assert json.loads(b.contents)['queued'] == []
    b.raiseHttpErrors = False
    b.handleErrors = True
    b.open(portal.absolute_url() + '/@@zodbtasks-job?id=%d' % theirs)
    assert b.headers['status'].startswith('404')
    b.open(portal.absolute_url() + '/++api++/@jobs/%d' % theirs)
    assert b.headers['status'].startswith('404')


def test_the_job_page_shows_the_traceback_to_managers_only(portal):
    failing = add_as(portal, 'test-user', input='fail')
    transaction.commit()
    portal.tasks.process()
    assert portal.tasks.getStatus(failing) == ERROR
    b = member_browser(portal)
    b.open(portal.absolute_url() + '/@@zodbtasks-job?id=%d' % failing)
    assert 'it &lt;b&gt;failed&lt;/b&gt;' in b.contents
    assert 'id="zt-traceback"' not in b.contents
    m = manager_browser(portal)
    m.open(portal.absolute_url() + '/@@zodbtasks-job?id=%d' % failing)
    assert 'id="zt-traceback"' in m.contents and 'Traceback' in m.contents
    assert 'frames of the transaction manager folded' in m.contents
    assert 'id="zt-traceback-full"' in m.contents


# -- plone.restapi -------------------------------------------------------------

def api_browser(b):
    b.addHeader('Accept', 'application/json')
    return b


def test_get_jobs_lists_mine_and_everything_for_managers(portal):
    mine = add_as(portal, 'test-user')
    theirs = portal.tasks.add('whoami', runAs=None)
    transaction.commit()
    b = api_browser(member_browser(portal))
    b.open(portal.absolute_url() + '/++api++/@jobs')
    answer = json.loads(b.contents)
    assert [j['id'] for j in answer['items']] == [mine]
    assert answer['items'][0]['@id'].endswith('/@jobs/%d' % mine)
    m = api_browser(manager_browser(portal))
    m.open(portal.absolute_url() + '/++api++/@jobs?status=queued')
    assert {j['id'] for j in json.loads(m.contents)['items']} \
        == {mine, theirs}
    m.open(portal.absolute_url() + '/++api++/@jobs/%d' % mine)
    one = json.loads(m.contents)
    assert one['status'] == 'queued' and one['task'] == 'whoami'


def test_post_jobs_answers_202_with_the_jobs_location(portal):
    m = api_browser(manager_browser(portal))
    m.addHeader('Content-Type', 'application/json')
    m.post(portal.absolute_url() + '/++api++/@jobs',
           json.dumps({'task': 'whoami', 'input': 1, 'priority': -5,
                       'tag': 'api'}), 'application/json')
    assert m.headers['status'].startswith('202')
    answer = json.loads(m.contents)
    assert m.headers['Location'] == answer['@id']
    transaction.begin()
    job = portal.tasks.jobs[answer['id']]
    assert job.priority == -5 and 'api' in job.tags
    assert job.runAs == SITE_OWNER_NAME


def test_post_jobs_says_what_is_wrong(portal):
    m = api_browser(manager_browser(portal))
    m.raiseHttpErrors = False
    m.handleErrors = True
    m.post(portal.absolute_url() + '/++api++/@jobs',
           json.dumps({'task': 'whoami', 'prio': 1}), 'application/json')
    assert m.headers['status'].startswith('400')
    assert 'unknown keys: prio' in json.loads(m.contents)['message']
    m.post(portal.absolute_url() + '/++api++/@jobs',
           json.dumps({'task': 'nosuch'}), 'application/json')
    assert m.headers['status'].startswith('400')
    assert "no task named 'nosuch'" in json.loads(m.contents)['message']
    m.post(portal.absolute_url() + '/++api++/@jobs',
           'task=whoami', 'application/x-www-form-urlencoded')
    assert m.headers['status'].startswith('400')
    assert 'takes a JSON body' in json.loads(m.contents)['message']
    transaction.begin()
    assert len(portal.tasks) == 0


def test_members_may_not_post_jobs(portal):
    b = api_browser(member_browser(portal))
    b.raiseHttpErrors = False
    b.handleErrors = True
    b.post(portal.absolute_url() + '/++api++/@jobs',
           json.dumps({'task': 'whoami'}), 'application/json')
    assert b.headers['status'][:3] in ('401', '403')
    transaction.begin()
    assert len(portal.tasks) == 0


# -- the example ---------------------------------------------------------------

def test_publishing_a_folder_in_the_background_as_the_user(portal):
    api.portal.get_tool('portal_workflow').setDefaultChain(
        'simple_publication_workflow')
    setRoles(portal, TEST_USER_ID, ['Manager'])
    login(portal, 'test-user')
    folder = api.content.create(portal, 'Folder', 'docs', title='Docs')
    for number in range(3):
        api.content.create(folder, 'Document', 'page%d' % number)
    zope_testing.logout()
    transaction.commit()
    b = member_browser(portal)
    b.open(folder.absolute_url() + '/@@zodbtasks-publish-contents')
    assert '<strong>4</strong> private items' in b.contents
    b.getControl('Publish').click()
    assert 'zodbtasks_job=' in b.url
    assert 'data-zodbtasks-reload-on=' in b.contents
    transaction.begin()
    while portal.tasks.process():
        transaction.begin()
    transaction.begin()
    workflow = portal.portal_workflow

    def state(obj):
        return workflow.getStatusOf('simple_publication_workflow',
                                    obj)['review_state']
    assert {state(obj) for obj in [folder] + list(folder.objectValues())} \
        == {'published'}
    total, jobs = portal.tasks.queryJobs(task='zodbtasks.publish-batch')
    assert total == 1 and jobs[0].runAs == TEST_USER_ID
    assert jobs[0].output == {'published': 4, 'skipped': []}
    total, reports = portal.tasks.queryJobs(task='zodbtasks.publish-report')
    assert total == 1 and reports[0].output == {'published': 4}
    assert reports[0].runAs == TEST_USER_ID


def test_items_the_user_may_not_publish_make_the_report_fail(portal):
    api.portal.get_tool('portal_workflow').setDefaultChain(
        'simple_publication_workflow')
    setRoles(portal, TEST_USER_ID, ['Manager'])
    login(portal, 'test-user')
    folder = api.content.create(portal, 'Folder', 'docs', title='Docs')
    api.content.create(folder, 'Document', 'mine')
    hidden = api.content.create(folder, 'Document', 'hidden')
    hidden.__ac_local_roles_block__ = True
    hidden.reindexObjectSecurity()
    api.user.grant_roles(username='test-user', obj=folder,
                         roles=['Reviewer', 'Editor'])
    setRoles(portal, TEST_USER_ID, ['Member'])
    planner = portal.tasks.add('zodbtasks.publish', {
        'path': '/'.join(folder.getPhysicalPath()), 'transition': 'publish'})
    zope_testing.logout()
    transaction.commit()
    while portal.tasks.process():
        transaction.begin()
    transaction.begin()
    # The planner and the batch ran as the user: the folder and 'mine'
    # are published; 'hidden' (theirs, so they see it, but without the
    # folder's Reviewer role) is not.
    assert portal.tasks.getResult(planner)['items'] == 3
    _, reports = portal.tasks.queryJobs(task='zodbtasks.publish-report')
    assert reports[0].status == ERROR
    assert reports[0].error.startswith(
        "1 items of /plone/docs were not published: /plone/docs/hidden: "
        "Invalid transition 'publish'")
    workflow = portal.portal_workflow
    assert workflow.getStatusOf('simple_publication_workflow',
                                folder.mine)['review_state'] == 'published'


def test_a_batch_runs_with_its_users_permissions_only(portal):
    api.portal.get_tool('portal_workflow').setDefaultChain(
        'simple_publication_workflow')
    setRoles(portal, TEST_USER_ID, ['Manager'])
    login(portal, 'test-user')
    page = api.content.create(portal, 'Document', 'secret-page')
    path = '/'.join(page.getPhysicalPath())
    setRoles(portal, TEST_USER_ID, ['Member'])
    jobid = portal.tasks.add('zodbtasks.publish-batch',
                             {'paths': [path], 'transition': 'publish'})
    zope_testing.logout()
    transaction.commit()
    portal.tasks.process()
    result = portal.tasks.getResult(jobid)
    assert result['published'] == 0
    # As its owner, a Member may only submit the page, not publish it.
    skipped, = result['skipped']
    assert skipped.startswith(path + ": Invalid transition 'publish'")
    assert skipped.endswith('submit')
    assert portal.portal_workflow.getStatusOf(
        'simple_publication_workflow', page)['review_state'] == 'private'


def test_the_control_panel_starts_and_stops_processing_here(portal):
    b = manager_browser(portal)
    b.open(portal.absolute_url() + '/@@zodbtasks-controlpanel')
    assert '<strong>not</strong> run in this process' in b.contents
    b.getControl('Start processing in this process').click()
    assert 'Processing started in this process.' in b.contents
    transaction.begin()
    assert portal.tasks.isProcessing()
    b.getControl('Stop processing in this process').click()
    transaction.begin()
    assert not portal.tasks.isProcessing()


def test_installing_starts_the_service_when_autostart_names_the_site(
        portal):
    import App.config
    from zodbtasks.plone import setuphandlers
    config = App.config.getConfiguration()
    before = getattr(config, 'product_config', None)
    config.product_config = dict(before or {}, zodbtasks={
        'autostart': '%s@*' % portal.getId()})
    try:
        assert setuphandlers.autostarted(portal.getId())
        assert not setuphandlers.autostarted('other-site')
        setuphandlers.post_install(portal.portal_setup)
        assert not portal.tasks.isProcessing()   # not before the commit
        transaction.commit()
        assert portal.tasks.isProcessing()
    finally:
        config.product_config = before


def test_get_jobs_filters_by_task(portal):
    mine = add_as(portal, 'test-user')
    add_as(portal, 'test-user', task='zodbtasks.publish', input={
        'path': '/plone', 'transition': 'publish'})
    transaction.commit()
    b = api_browser(member_browser(portal))
    b.open(portal.absolute_url() + '/++api++/@jobs?task=whoami')
    assert [j['id'] for j in json.loads(b.contents)['items']] == [mine]
    b.raiseHttpErrors = False
    b.handleErrors = True
    b.open(portal.absolute_url() + '/++api++/@jobs?status=nonsense')
    assert b.headers['status'].startswith('400')
    assert 'status: expected one of' in json.loads(b.contents)['message']
