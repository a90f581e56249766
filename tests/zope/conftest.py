"""A real Zope 6 application for the tests of the Zope product.

plone.testing's STARTUP layer starts Zope (Zope2.App.startup, the ZCML of
Products.Five and Zope's own products) on a DemoStorage, once per pytest
process; each test gets the application root in a DemoStorage stacked on
it (plone.testing.zope.FunctionalTesting), so a test may commit and what
it commits is gone after it.  Browsers go through Zope's WSGI publisher
(ZPublisher.WSGIPublisher), as a WSGI server's requests do.

The application has five.localsitemanager and zodbtasks.zope loaded
(ZCML and product) and a virtual host monster.

Fixtures:
  zope_layer        (session) the set-up layer; its resources: zodbDB, host
  app               the application root (OFS.Application), in a
                    transaction of the test's; commit to show changes to
                    browsers
  anonymous_browser a zope.testbrowser Browser without credentials; it
                    does not raise on HTTP errors (read .headers['status'])
  manager_browser   a Browser authenticated (Basic) as MANAGER, a user
                    with the Manager role in the root acl_users; it raises
                    on HTTP errors (urllib.error.HTTPError)
  manager           the (name, password) of that user

Run these tests in their own process: `pytest tests/zope` (setup.cfg keeps
them out of a bare `pytest`); docs/zope-plone-testing.rst says why.  This
directory has no __init__.py on purpose: tests/ is on sys.path, so a
package here would be `zope` itself, and its modules are portions of the
`zope` namespace package: name none of them like a zope.* package
(testing.py, browser.py, ...).
"""
import pytest

from layer_helpers import layer_set_up
from layer_helpers import layer_test
from layer_helpers import missing
from layer_helpers import skipping_collector
from layer_helpers import stop_processors

MISSING = missing(('Zope2', 'OFS', 'plone.testing'),
                  '`make venv` installs Zope and plone.testing '
                  '(constraints/plone-6.2.in)')

if MISSING:
    pytest_pycollect_makemodule = skipping_collector(MISSING)

else:
    from plone.testing import Layer
    from plone.testing import zope as zope_testing


    MANAGER = ('zope-manager', 'zope-manager-password')

    class ZopeFixture(Layer):
        """Zope started, with a manager in the root user folder, a
        virtual host monster, five.localsitemanager and zodbtasks.zope
        (its ZCML and its product)."""

        defaultBases = (zope_testing.STARTUP,)

        def setUp(self):
            from zope.configuration import xmlconfig
            import five.localsitemanager
            import zodbtasks.zope
            context = self['configurationContext']
            xmlconfig.file('configure.zcml', five.localsitemanager,
                           context=context)
            xmlconfig.file('configure.zcml', zodbtasks.zope,
                           context=context)
            with zope_testing.zopeApp() as app:
                zope_testing.installProduct(app, 'zodbtasks.zope')
                app.acl_users.userFolderAddUser(
                    MANAGER[0], MANAGER[1], ['Manager'], [])
                if 'virtual_hosting' not in app.objectIds():
                    from Products.SiteAccess.VirtualHostMonster import \
                        manage_addVirtualHostMonster
                    manage_addVirtualHostMonster(app, 'virtual_hosting')

        def tearDown(self):
            with zope_testing.zopeApp() as app:
                zope_testing.uninstallProduct(app, 'zodbtasks.zope')

    ZOPE_FIXTURE = ZopeFixture(
        name='ZodbtasksZopeFixture', module='tests.zope')
    ZOPE_FUNCTIONAL = zope_testing.FunctionalTesting(
        bases=(ZOPE_FIXTURE,), name='ZodbtasksZope:Functional',
        module='tests.zope')

    @pytest.fixture(autouse=True)
    def component_registry():
        """tests/conftest.py's fixture would reset the global component
        registry that the layer loaded Zope's ZCML into; processors a
        test started are stopped."""
        yield
        stop_processors()

    @pytest.fixture(scope='session')
    def zope_layer():
        with layer_set_up(ZOPE_FUNCTIONAL) as layer:
            yield layer

    @pytest.fixture
    def app(zope_layer):
        with layer_test(zope_layer) as layer:
            yield layer['app']
            stop_processors()

    @pytest.fixture
    def manager():
        return MANAGER

    @pytest.fixture
    def anonymous_browser(app):
        browser = zope_testing.Browser(app)
        browser.raiseHttpErrors = False
        return browser

    @pytest.fixture
    def manager_browser(app):
        browser = zope_testing.Browser(app)
        browser.addHeader('Authorization', 'Basic %s:%s' % MANAGER)
        return browser
