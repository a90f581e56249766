"""zodbtasks in Plone 6: the GenericSetup profile ``zodbtasks:plone``
(a task service ``tasks`` in the site, a control panel, permissions
mapped to Plone's roles), the "my jobs" viewlet with its JSON, the
``@jobs`` REST services and the helper that answers a long operation
with ``202 Accepted``, and an example: publishing a folder's contents in
the background as the user who asked.  See docs/plone.rst."""
from zope.interface import Interface

#: The id of the task service the profile makes in the site.
SERVICE_ID = 'tasks'


class IZodbtasksLayer(Interface):
    """The browser layer of sites where the profile is installed."""
