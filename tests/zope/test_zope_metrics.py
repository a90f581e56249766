"""@@metrics in Zope 6: of a task service, of its site and of the
application root; the permission "zodbtasks: View metrics" or the bearer
token of metrics-token (Zope's <product-config zodbtasks>)."""
import base64

import pytest
import transaction

pytest.importorskip('five.localsitemanager')

from five.localsitemanager import make_objectmanager_site  # noqa: E402
from OFS.userfolder import UserFolder  # noqa: E402
from plone.testing import zope as zope_testing  # noqa: E402
from prometheus_client.openmetrics.parser import \
    text_string_to_metric_families as parse_openmetrics  # noqa: E402

from zodbtasks import metrics  # noqa: E402
from zodbtasks import testing  # noqa: E402

from layer_helpers import zodbtasks_product_config  # noqa: E402

MANAGER = ('zope-manager', 'zope-manager-password')
TOKEN = 'zope-metrics-token-0123456789'
OPENMETRICS_ACCEPT = 'application/openmetrics-text;version=1.0.0'


@pytest.fixture
def service(app):
    """site1/tasks with two echo jobs queued; bob is a Member of site1."""
    from zodbtasks.zope.service import manage_addTaskService
    app.manage_addFolder('site1')
    make_objectmanager_site(app.site1)
    app.site1._setObject('acl_users', UserFolder())
    app.site1.acl_users.userFolderAddUser('bob', 'bob-pw', ['Member'], [])
    zope_testing.login(app['acl_users'], MANAGER[0])
    manage_addTaskService(app.site1.manage_addProduct['zodbtasks.zope'],
                          'tasks')
    testing.register_task('echo', lambda input: input)
    app.site1.tasks.add('echo', 1, runAs=None)
    app.site1.tasks.add('echo', 2, runAs=None)
    transaction.commit()
    return app.site1.tasks


@pytest.fixture
def token():
    with zodbtasks_product_config(**{'metrics-token': TOKEN}):
        yield TOKEN


def get(app, url, user=None, accept=OPENMETRICS_ACCEPT, bearer=None,
        method='GET'):
    browser = zope_testing.Browser(app)
    browser.raiseHttpErrors = False
    if user:
        browser.addHeader('Authorization', 'Basic ' + base64.b64encode(
            ('%s:%s' % user).encode()).decode())
    if bearer:
        browser.addHeader('Authorization', 'Bearer ' + bearer)
    if accept:
        browser.addHeader('Accept', accept)
    if method == 'POST':
        browser.post('http://nohost' + url, '')
    else:
        browser.open('http://nohost' + url)
    return browser


def queued(browser):
    [family] = [family for family in parse_openmetrics(browser.contents)
                if family.name == 'zodbtasks_jobs']
    return {sample.labels['service']: sample.value
            for sample in family.samples
            if sample.labels['status'] == 'queued'}


def test_a_manager_reads_the_services(app, service):
    browser = get(app, '/site1/tasks/@@metrics', MANAGER)
    assert browser.headers['status'].startswith('200')
    assert browser.headers['Content-Type'] == metrics.OPENMETRICS
    assert queued(browser) == {'site1@tasks': 2}
    assert queued(get(app, '/site1/@@metrics', MANAGER)) \
        == {'site1@tasks': 2}
    assert queued(get(app, '/@@metrics', MANAGER)) == {'site1@tasks': 2}
    assert queued(get(app, '/@@metrics?service=site1@*', MANAGER)) \
        == {'site1@tasks': 2}


def test_the_prometheus_text_without_accept(app, service):
    browser = get(app, '/site1/tasks/@@metrics', MANAGER, accept=None)
    assert browser.headers['Content-Type'] == metrics.PROMETHEUS
    assert 'zodbtasks_jobs{' in browser.contents
    assert '# EOF' not in browser.contents


def test_anonymous_gets_401_and_a_member_403(app, service):
    browser = get(app, '/site1/tasks/@@metrics')
    assert browser.headers['status'].startswith('401')
    assert 'zodbtasks: View metrics' in browser.contents
    assert 'zodbtasks_jobs' not in browser.contents
    browser = get(app, '/site1/tasks/@@metrics', ('bob', 'bob-pw'))
    assert browser.headers['status'].startswith('403')


def test_the_bearer_token_opens_every_view(app, service, token):
    for url in ('/site1/tasks/@@metrics', '/site1/@@metrics', '/@@metrics'):
        browser = get(app, url, bearer=token)
        assert queued(browser) == {'site1@tasks': 2}, url
    browser = get(app, '/@@metrics', bearer='not-' + token)
    assert browser.headers['status'].startswith('401')
    assert 'does not match metrics-token' in browser.contents


def test_post_is_refused(app, service):
    browser = get(app, '/site1/tasks/@@metrics', MANAGER, method='POST')
    assert browser.headers['status'].startswith('405')
