"""Installing and uninstalling the profile ``zodbtasks:plone``."""
import logging

import transaction
from Acquisition import aq_inner
from Acquisition import aq_parent
from plone.base.interfaces import INonInstallable
from zope.interface import implementer

from zodbtasks import processor
from zodbtasks import startup
from zodbtasks.plone import SERVICE_ID
from zodbtasks.zope.service import ZopeTaskService

logger = logging.getLogger(__name__)


@implementer(INonInstallable)
class HiddenProfiles:
    """The uninstall profile is not offered in the add-ons control
    panel."""

    def getNonInstallableProfiles(self):
        return ['zodbtasks:uninstall']


def post_install(context):
    """Make the site's task service (``tasks``), unless it has one, and
    start it in this process when the product config's autostart names
    it (``SITE@*``, ``SITE@tasks``, ``*@*``), once the install commits."""
    site = _site(context)
    if SERVICE_ID not in site.objectIds():
        site._setObject(SERVICE_ID, ZopeTaskService(SERVICE_ID,
                                                    'Background jobs'))
        logger.info('task service %s added to %s', SERVICE_ID,
                    '/'.join(site.getPhysicalPath()))
    if autostarted(site.getId()):
        service = site._getOb(SERVICE_ID)
        transaction.get().addAfterCommitHook(_start, (service,))


def _site(tool):
    """The site of the setup tool that runs a profile's post handler."""
    return aq_parent(aq_inner(tool))


def autostarted(site_id, service_id=SERVICE_ID):
    """Whether this process's autostart directives name the service."""
    try:
        directives = startup.getAutostartServiceNames()
        enabled = startup.processors_enabled()
    except ValueError:
        return False
    if not enabled:
        return False
    for directive in directives:
        site, _, service = directive.partition('@')
        if site in (site_id, '*') and service in (service_id, '*'):
            return True
    return False


def _start(committed, service):
    if committed and not processor.is_running(service):
        processor.start(service, startup.thread_count())


def uninstall(context):
    """Stop the site's task service in this process and remove it (its
    jobs go with it)."""
    site = _site(context)
    if SERVICE_ID in site.objectIds():
        service = site._getOb(SERVICE_ID)
        if service._p_oid is not None:
            processor.stop(service)
        site.manage_delObjects([SERVICE_ID])
