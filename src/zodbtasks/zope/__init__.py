"""zodbtasks in Zope 6: task services added from the Zope ZMI to a site
(a folder with a local component registry, or a Plone site), with the
ZMI tabs of ``zodbtasks.browser``, whose jobs run as the user who added
them, in their site, with a request like theirs.

Load it with ``<include package="zodbtasks.zope" />`` in a Zope
instance's ``etc/site.zcml``.  See docs/zope.rst.
"""


def initialize(context):
    """Register the task service as an addable Zope class (called by
    Zope at startup, through ``five:registerPackage``)."""
    from zodbtasks.zope import service
    context.registerClass(
        service.ZopeTaskService,
        permission=service.ADD_PERMISSION,
        constructors=(service.manage_addTaskServiceForm,
                      service.manage_addTaskService))
