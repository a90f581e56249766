"""The real application (site.zcml, ZMI, security) on a fresh instance,
loaded once per test module, driven through WebTest."""
import os

import pytest
import transaction
import webtest
import zope.component.testing

from zodbtasks import processor
from zodbtasks.app import server
from zodbtasks.app.testing import quiet_instance
from zodbtasks.app.testing import root_logger_kept

SERVICE = '/demo/++etc++site/default/jobs'
VIEWER = ('viewer', 'viewer-password')

VIEWER_ZCML = """
  <principal id="test.viewer" title="Viewer" login="viewer"
             password_manager="Plain Text" password="viewer-password" />
  <grant permission="zope.View" principal="test.viewer" />
  <grant permission="zope.ManageSite" principal="test.viewer" />
  <grant permission="zodbtasks.ViewJobs" principal="test.viewer" />
</configure>
"""


@pytest.fixture(autouse=True)
def component_registry():
    """Keep the application's registrations between the tests of a
    module (the module fixture sets them up and tears them down)."""
    yield
    transaction.abort()


@pytest.fixture(scope='module')
def application(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp('instance'))
    config, password = quiet_instance(folder)
    site_zcml = os.path.join(folder, 'site.zcml')
    with open(site_zcml) as f:
        text = f.read().replace('</configure>', VIEWER_ZCML)
    with open(site_zcml, 'w') as f:
        f.write(text)
    with root_logger_kept():
        zope.component.testing.setUp()
        app, databases = server.make_app(config)
        yield app, databases[0], password
        server.close_databases(databases)
        zope.component.testing.tearDown()


@pytest.fixture
def manager(application):
    app, _, password = application
    browser = webtest.TestApp(app)
    browser.authorization = ('Basic', ('admin', password))
    return browser


@pytest.fixture
def viewer(application):
    browser = webtest.TestApp(application[0])
    browser.authorization = ('Basic', VIEWER)
    return browser


@pytest.fixture
def anonymous(application):
    return webtest.TestApp(application[0])


class Demo:
    """The demo service in a connection (and transaction manager) of the
    test's own."""

    def __init__(self, db):
        self.tm = transaction.TransactionManager()
        self.connection = db.open(transaction_manager=self.tm)
        self.service = self.connection.root()['Application']['demo'] \
            .getSiteManager()['default']['jobs']

    def commit(self):
        self.tm.commit()

    def sync(self):
        """See what the application committed."""
        self.tm.begin()


@pytest.fixture
def demo(application):
    """The demo service, emptied of jobs and groups."""
    demo = Demo(application[1])
    demo.sync()
    demo.service.cancelAll()
    demo.service.clean()
    for group in demo.service.queryGroups(size=1000)[1]:
        demo.service.cleanGroup(group.id)
    demo.commit()
    yield demo
    processor.stop_all()
    demo.tm.abort()
    demo.connection.close()
