"""A Zope 6 application with zodbtasks.zope loaded (plone.testing's
Zope layers), for the tests of the Zope product (set up with
``layer_support``)."""
from plone.testing import Layer
from plone.testing import zope as zope_testing

import layer_support

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


layers_set_up = layer_support.layers_set_up
test_set_up = layer_support.test_set_up
