"""The Plone 6 test environment: a site, its control panel through the WSGI
publisher for a manager only, and plone.api inside the layer."""
import plone.api
import transaction
from Acquisition import aq_base
from plone.app.testing import SITE_OWNER_NAME
from plone.app.testing import TEST_USER_ID
from plone.app.testing import setRoles
from Products.CMFPlone.Portal import PloneSite


def test_the_layer_has_a_plone_site(app, portal):
    assert isinstance(portal, PloneSite)
    assert aq_base(app['plone']) is aq_base(portal)
    assert portal.title == 'Plone site'


def test_plone_api_finds_the_site_in_the_layer(portal):
    assert plone.api.portal.get() is portal
    assert plone.api.user.get(userid=TEST_USER_ID) is not None


def test_a_manager_gets_the_control_panel(portal, manager_browser):
    manager_browser.open(portal.absolute_url() + '/@@overview-controlpanel')
    assert manager_browser.headers['status'].startswith('200')
    assert 'Site Setup' in manager_browser.contents
    assert SITE_OWNER_NAME in manager_browser.contents


def test_anonymous_is_sent_to_log_in_for_the_control_panel(
        portal, anonymous_browser):
    anonymous_browser.open(
        portal.absolute_url() + '/@@overview-controlpanel')
    assert anonymous_browser.url.startswith(
        portal.absolute_url() + '/login?came_from=')
    assert 'Site Setup' not in anonymous_browser.contents


def test_a_member_is_logged_in_but_gets_no_control_panel(
        portal, member_browser):
    member_browser.open(portal.absolute_url() + '/@@personal-information')
    assert member_browser.url == (
        portal.absolute_url() + '/@@personal-information')
    member_browser.open(portal.absolute_url() + '/@@overview-controlpanel')
    assert 'overview-controlpanel' not in member_browser.url.split('?')[0]
    assert 'Site Setup' not in member_browser.contents


def test_a_page_committed_in_the_test_is_served(portal, anonymous_browser):
    # PLONE_FIXTURE sets no workflow: the page is visible to anyone.
    setRoles(portal, TEST_USER_ID, ['Manager'])
    page = plone.api.content.create(
        container=portal, type='Document', id='tasks-page',
        title='Page for tasks')
    setRoles(portal, TEST_USER_ID, ['Member'])
    transaction.commit()
    anonymous_browser.open(page.absolute_url())
    assert anonymous_browser.headers['status'].startswith('200')
    assert 'Page for tasks' in anonymous_browser.contents


def test_what_a_test_commits_is_gone_in_the_next_test(portal):
    assert 'tasks-page' not in portal.objectIds()
