"""A Zope 6 application with zodbtasks.zope loaded (plone.testing's
Zope layers), for the tests of the Zope product; ``layer_fixture``
sets a layer and its bases up once and takes them down at the end."""
import contextlib

import transaction
from plone.testing import Layer
from plone.testing import zope as zope_testing

MANAGER, MANAGER_PASSWORD = 'manager', 'secret-manager'


class ZodbtasksZope(Layer):
    """Zope with zodbtasks.zope, five.localsitemanager and a manager in
    the root user folder."""

    defaultBases = (zope_testing.STARTUP,)

    def setUp(self):
        from zope.configuration import xmlconfig
        import zodbtasks.zope
        import five.localsitemanager
        context = self['configurationContext']
        xmlconfig.file('configure.zcml', five.localsitemanager,
                       context=context)
        xmlconfig.file('configure.zcml', zodbtasks.zope, context=context)
        with zope_testing.zopeApp() as app:
            zope_testing.installProduct(app, 'zodbtasks.zope')
            app.acl_users.userFolderAddUser(MANAGER, MANAGER_PASSWORD,
                                            ['Manager'], [])
            if 'virtual_hosting' not in app.objectIds():
                from Products.SiteAccess.VirtualHostMonster import \
                    manage_addVirtualHostMonster
                manage_addVirtualHostMonster(app, 'virtual_hosting')

    def tearDown(self):
        with zope_testing.zopeApp() as app:
            zope_testing.uninstallProduct(app, 'zodbtasks.zope')


ZODBTASKS_ZOPE = ZodbtasksZope()
FUNCTIONAL = zope_testing.FunctionalTesting(bases=(ZODBTASKS_ZOPE,),
                                            name='zodbtasks:Functional')


def _setup_order(layer, seen):
    for base in layer.__bases__:
        _setup_order(base, seen)
    if layer not in seen:
        seen.append(layer)
    return seen


@contextlib.contextmanager
def layers_set_up(layer):
    """Set ``layer`` and its bases up (bases first); yield; tear down."""
    done = []
    try:
        for each in _setup_order(layer, []):
            each.setUp()
            done.append(each)
        yield layer
    finally:
        for each in reversed(done):
            each.tearDown()


@contextlib.contextmanager
def test_set_up(layer):
    """Run the per-test set-up of ``layer`` and its bases."""
    order = _setup_order(layer, [])
    for each in order:
        each.testSetUp()
    try:
        yield layer
    finally:
        transaction.abort()
        for each in reversed(order):
            each.testTearDown()
