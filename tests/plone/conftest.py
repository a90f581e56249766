"""A real Plone 6 site for the tests of the Plone add-on.

plone.app.testing's PLONE_FIXTURE (Zope started, Plone's ZCML loaded, a
site `plone` made from the default profile: Products.CMFPlone, no Volto
distribution) with plone.restapi and the zodbtasks add-on installed
(zodbtasks_plone_layer) is set up once per pytest process;
PLONE_FUNCTIONAL_TESTING gives each test the site in a DemoStorage stacked on it, so a test may
commit and what it commits is gone after it.  Browsers go through Zope's
WSGI publisher.

Fixtures:
  plone_layer       (session) the set-up layer
  portal            the Plone site (zope.component's site is set to it, so
                    plone.api works), in a transaction of the test's; commit
                    to show changes to browsers
  app               the Zope application root above it
  http_request      the test's request (plone.app.testing's)
  anonymous_browser a zope.testbrowser Browser without credentials; it
                    does not raise on HTTP errors (read .headers['status'])
  manager_browser   authenticated (Basic) as the site owner (SITE_OWNER_NAME,
                    Manager in the root acl_users); raises on HTTP errors
  member_browser    authenticated as the test user (TEST_USER_NAME, Member
                    of the site); raises on HTTP errors

Run these tests in their own process: `pytest tests/plone` (setup.cfg keeps
them out of a bare `pytest`; docs/zope-plone-testing.rst says why).  This
directory has no __init__.py on purpose: tests/ is on sys.path, so a
package here would be `plone` itself, and its modules are portions of the
`plone` namespace package: name none of them like a plone.* package
(testing.py, api.py, ...).
"""
import pytest

from layer_helpers import layer_set_up
from layer_helpers import layer_test
from layer_helpers import missing
from layer_helpers import skipping_collector
from layer_helpers import stop_processors

MISSING = missing(('Products.CMFPlone', 'plone.app.testing', 'plone.api'),
                  '`make venv` installs Plone (constraints/plone-6.2.in)')

if MISSING:
    pytest_pycollect_makemodule = skipping_collector(MISSING)

else:
    from plone.app.testing import SITE_OWNER_NAME
    from plone.app.testing import SITE_OWNER_PASSWORD
    from plone.app.testing import TEST_USER_NAME
    from plone.app.testing import TEST_USER_PASSWORD
    from plone.testing import zope as zope_testing

    from zodbtasks_plone_layer import FUNCTIONAL

    @pytest.fixture(autouse=True)
    def component_registry():
        """tests/conftest.py's fixture would reset the global component
        registry that the layer loaded Plone's ZCML into; processors a
        test started are stopped."""
        yield
        stop_processors()

    @pytest.fixture(scope='session')
    def plone_layer():
        with layer_set_up(FUNCTIONAL) as layer:
            yield layer

    @pytest.fixture
    def _plone_test(plone_layer):
        with layer_test(plone_layer) as layer:
            yield layer
            stop_processors()

    @pytest.fixture
    def portal(_plone_test):
        return _plone_test['portal']

    @pytest.fixture
    def app(_plone_test):
        return _plone_test['app']

    @pytest.fixture
    def http_request(_plone_test):
        return _plone_test['request']

    def _browser(app, credentials=None):
        browser = zope_testing.Browser(app)
        if credentials:
            browser.addHeader('Authorization', 'Basic %s:%s' % credentials)
        return browser

    @pytest.fixture
    def anonymous_browser(app):
        browser = _browser(app)
        browser.raiseHttpErrors = False
        return browser

    @pytest.fixture
    def manager_browser(app):
        return _browser(app, (SITE_OWNER_NAME, SITE_OWNER_PASSWORD))

    @pytest.fixture
    def member_browser(app):
        return _browser(app, (TEST_USER_NAME, TEST_USER_PASSWORD))
