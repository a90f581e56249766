"""@@metrics in a Plone site: the site's service ``tasks``, read by the
site owner, refused to a Member, opened by the bearer token."""
import pytest
import transaction

pytest.importorskip('Products.CMFPlone')

from prometheus_client.openmetrics.parser import \
    text_string_to_metric_families as parse_openmetrics  # noqa: E402

from zodbtasks import testing  # noqa: E402

from layer_helpers import zodbtasks_product_config  # noqa: E402

TOKEN = 'plone-metrics-token-0123456789'
ACCEPT = 'application/openmetrics-text;version=1.0.0'


@pytest.fixture
def jobs(portal):
    testing.register_task('echo', lambda input: input)
    portal.tasks.add('echo', 1, runAs=None)
    transaction.commit()


@pytest.fixture
def token():
    with zodbtasks_product_config(**{'metrics-token': TOKEN}):
        yield TOKEN


def queued(browser):
    [family] = [family for family in parse_openmetrics(browser.contents)
                if family.name == 'zodbtasks_jobs']
    return {(sample.labels['service'], sample.labels['task']): sample.value
            for sample in family.samples
            if sample.labels['status'] == 'queued'}


def test_the_site_owner_reads_the_sites_metrics(portal, jobs,
                                                manager_browser):
    manager_browser.addHeader('Accept', ACCEPT)
    manager_browser.open(portal.absolute_url() + '/@@metrics')
    assert queued(manager_browser) == {('plone@tasks', 'echo'): 1}
    manager_browser.open(portal.absolute_url() + '/tasks/@@metrics')
    assert queued(manager_browser) == {('plone@tasks', 'echo'): 1}


def test_a_member_is_refused(portal, jobs, member_browser):
    member_browser.raiseHttpErrors = False
    member_browser.open(portal.absolute_url() + '/@@metrics')
    assert member_browser.headers['status'].startswith('403')
    assert 'zodbtasks: View metrics' in member_browser.contents


def test_the_token_opens_it(portal, jobs, token, anonymous_browser):
    anonymous_browser.open(portal.absolute_url() + '/@@metrics')
    assert anonymous_browser.headers['status'].startswith('401')
    anonymous_browser.addHeader('Authorization', 'Bearer ' + token)
    anonymous_browser.addHeader('Accept', ACCEPT)
    anonymous_browser.open(portal.absolute_url() + '/@@metrics')
    assert queued(anonymous_browser) == {('plone@tasks', 'echo'): 1}
