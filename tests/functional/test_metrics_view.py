"""@@metrics of the Zope Toolkit server: who may read it (the permission,
the bearer token), the two formats, a service's and the root folder's."""
import pytest
import zope.app.appsetup.product
from prometheus_client.openmetrics.parser import \
    text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import \
    text_string_to_metric_families as parse_prometheus

from zodbtasks import metrics

from .conftest import SERVICE

TOKEN = 'a-long-enough-metrics-token-0123'
OPENMETRICS_ACCEPT = ('application/openmetrics-text;version=1.0.0,'
                      'text/plain;version=0.0.4;q=0.5,*/*;q=0.1')
METRICS = SERVICE + '/@@metrics'


@pytest.fixture
def token():
    """metrics-token set in <product-config zodbtasks> for the test."""
    state = zope.app.appsetup.product.saveConfiguration()
    config = dict(zope.app.appsetup.product.getProductConfiguration(
        'zodbtasks') or {})
    config['metrics-token'] = TOKEN
    zope.app.appsetup.product.setProductConfiguration('zodbtasks', config)
    yield TOKEN
    zope.app.appsetup.product.restoreConfiguration(state)


def jobs_of(text, parse=parse_openmetrics):
    [family] = [family for family in parse(text)
                if family.name == 'zodbtasks_jobs']
    return {(s.labels['service'], s.labels['task'], s.labels['status']):
            s.value for s in family.samples}


def test_a_manager_reads_openmetrics(manager, demo):
    demo.service.add('echo', 1)
    demo.service.add('echo', 2)
    demo.commit()
    response = manager.get(METRICS, headers={'Accept': OPENMETRICS_ACCEPT})
    assert response.headers['Content-Type'] == metrics.OPENMETRICS
    assert response.headers['Cache-Control'] == 'no-store'
    assert jobs_of(response.text)[('demo@jobs', 'echo', 'queued')] == 2


def test_without_accept_the_prometheus_text_format(manager, demo):
    demo.service.add('echo', 1)
    demo.commit()
    response = manager.get(METRICS)
    assert response.headers['Content-Type'] == metrics.PROMETHEUS
    assert '# EOF' not in response.text
    found = jobs_of(response.text, parse_prometheus)
    assert found[('demo@jobs', 'echo', 'queued')] == 1


def test_the_root_folder_lists_every_service(manager, demo):
    demo.service.add('echo', 1)
    demo.commit()
    response = manager.get('/@@metrics',
                           headers={'Accept': OPENMETRICS_ACCEPT})
    assert ('demo@jobs', 'echo', 'queued') in jobs_of(response.text)


def test_a_site_lists_its_services(manager, demo):
    demo.service.add('echo', 1)
    demo.commit()
    response = manager.get('/demo/@@metrics',
                           headers={'Accept': OPENMETRICS_ACCEPT})
    assert set(label for label, _, _ in jobs_of(response.text)) \
        == {'demo@jobs'}


def test_anonymous_gets_401_saying_what_is_needed(anonymous, demo):
    response = anonymous.get('/@@metrics', status=401)
    assert response.headers['WWW-Authenticate'].lower() == 'basic realm="zope"'
    assert 'zodbtasks.ViewMetrics' in response.text
    assert 'metrics-token' in response.text
    assert 'zodbtasks_jobs' not in response.text


def test_a_login_without_the_permission_gets_403(viewer, demo):
    response = viewer.get(METRICS, status=403)
    assert 'zodbtasks.ViewMetrics' in response.text
    viewer.get('/@@metrics', status=403)


def test_the_bearer_token_opens_the_root_folders(anonymous, demo, token):
    demo.service.add('echo', 1)
    demo.commit()
    response = anonymous.get('/@@metrics', headers={
        'Authorization': 'Bearer %s' % token, 'Accept': OPENMETRICS_ACCEPT})
    assert jobs_of(response.text)[('demo@jobs', 'echo', 'queued')] == 1


def test_the_root_folders_narrowed_to_services(manager, demo):
    demo.service.add('echo', 1)
    demo.commit()
    response = manager.get('/@@metrics?service=demo@jobs',
                           headers={'Accept': OPENMETRICS_ACCEPT})
    assert ('demo@jobs', 'echo', 'queued') in jobs_of(response.text)
    response = manager.get('/@@metrics?service=nosuch@*', status=400)
    assert "service=nosuch@*: no site 'nosuch'" in response.text
    response = manager.get('/@@metrics?service=jobs', status=400)
    assert 'service=jobs: expected SITE@NAME' in response.text
    manager.get('/demo/@@metrics?service=demo@jobs', status=400)


def test_the_token_does_not_open_the_way_to_a_site(anonymous, demo, token):
    """Traversing to a site, or to a service below ++etc++site, needs a
    login: a token holder scrapes the root folder's (docs/metrics.rst)."""
    for url in (METRICS, '/demo/@@metrics'):
        response = anonymous.get(url, status=401, headers={
            'Authorization': 'Bearer %s' % token})
        assert 'zodbtasks_jobs' not in response.text


def test_now_in_the_url_is_not_an_argument(manager, demo):
    response = manager.get('/@@metrics?now=x')   # 200, not a TypeError
    assert 'zodbtasks_info{version=' in response.text


def test_a_wrong_token_gets_401(anonymous, demo, token):
    response = anonymous.get('/@@metrics', status=401, headers={
        'Authorization': 'Bearer %s' % token[:-1] + 'x'})
    assert 'error="invalid_token"' in response.headers['WWW-Authenticate']
    assert 'does not match metrics-token' in response.text


def test_a_token_when_none_is_configured_gets_401(anonymous, demo):
    response = anonymous.get('/@@metrics', status=401, headers={
        'Authorization': 'Bearer %s' % TOKEN})
    assert 'no metrics-token is set' in response.text


def test_the_token_in_the_url_is_refused(anonymous, demo, token):
    response = anonymous.get('/@@metrics?token=' + token, status=400)
    assert 'Authorization: Bearer' in response.text


def test_a_short_token_is_a_configuration_error(anonymous, demo, token):
    zope.app.appsetup.product.setProductConfiguration(
        'zodbtasks', {'metrics-token': 'short'})
    response = anonymous.get('/@@metrics', status=500, headers={
        'Authorization': 'Bearer short'})
    assert 'metrics-token in <product-config zodbtasks> is 5 characters' \
        in response.text


def test_post_is_not_allowed(manager, demo):
    response = manager.post(METRICS, status=405)
    assert response.headers['Allow'] == 'GET, HEAD'
