"""A Plone 6 site with the profile zodbtasks:plone installed
(plone.app.testing), for the tests of the Plone add-on."""
from plone.app.testing import FunctionalTesting
from plone.app.testing import PLONE_FIXTURE
from plone.app.testing import PloneSandboxLayer
from plone.app.testing import applyProfile
from plone.testing import zope as zope_testing


class ZodbtasksPlone(PloneSandboxLayer):

    defaultBases = (PLONE_FIXTURE,)

    def setUpZope(self, app, configurationContext):
        import plone.restapi
        import zodbtasks.plone
        self.loadZCML(package=plone.restapi)
        self.loadZCML(package=zodbtasks.plone)
        zope_testing.installProduct(app, 'zodbtasks.zope')

    def setUpPloneSite(self, portal):
        applyProfile(portal, 'plone.restapi:default')
        applyProfile(portal, 'zodbtasks:plone')


FIXTURE = ZodbtasksPlone()
FUNCTIONAL = FunctionalTesting(bases=(FIXTURE,),
                               name='zodbtasks:PloneFunctional')
