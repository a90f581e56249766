"""Autostart: which task services start processing when the database opens.

The ``<product-config zodbtasks>`` section of zope.conf holds the key
``autostart``, a comma-separated list of directives (white space ignored):

``SITE@SERVICE``
    the ITaskService utility named SERVICE registered in the site SITE, a
    direct child of the root folder;
``@SERVICE``
    the one registered in the root folder's site manager;
``SITE@*``, ``*@SERVICE``, ``*@*``
    every service of a site; that name in every site and the root; all.
"""
import logging

import transaction
import zope.app.appsetup.product
from ZODB.POSException import POSError
from zope.component.interfaces import ISite

from zodbtasks.interfaces import ITaskService

logger = logging.getLogger('zodbtasks')

#: Where the root folder lives in the ZODB root (as zope.app.publication's
#: ``ZopePublication.root_name``).
ROOT_NAME = 'Application'
PRODUCT = 'zodbtasks'


def parse_autostart(text):
    """The directives of an ``autostart`` value, as a list of strings.

    Raises ValueError naming a directive that is not ``SITE@SERVICE``.
    """
    directives = []
    for raw in (text or '').split(','):
        directive = ''.join(raw.split())
        if not directive:
            continue
        site, sep, service = directive.partition('@')
        if not sep or not service or '@' in service:
            raise ValueError(
                'autostart directive %r in <product-config %s>: expected '
                'SITE@SERVICE, @SERVICE, SITE@*, *@SERVICE or *@*'
                % (directive, PRODUCT))
        directives.append(directive)
    return directives


def getAutostartServiceNames():
    """The autostart directives of the product configuration."""
    config = zope.app.appsetup.product.getProductConfiguration(PRODUCT)
    return parse_autostart((config or {}).get('autostart'))


def bootStrapSubscriber(event):
    """Start the services named by the autostart directives; subscribed to
    IDatabaseOpenedWithRoot."""
    try:
        directives = getAutostartServiceNames()
    except ValueError as exc:
        logger.error('%s; no task service was started', exc)
        return
    if not directives:
        return
    tm = transaction.TransactionManager()
    connection = event.database.open(transaction_manager=tm)
    try:
        root = connection.root().get(ROOT_NAME)
        if root is None:
            logger.error('no root folder %r in the database; no task '
                         'service was started', ROOT_NAME)
            return
        for directive in directives:
            start_directive(root, directive)
    finally:
        tm.abort()
        connection.close()


def start_directive(root, directive):
    """Start the services ``directive`` names under root folder ``root``;
    return how many were started."""
    site_name, _, service_name = directive.partition('@')
    started = 0
    for site_label, site in _sites(root, site_name):
        for name, service in _services(site, service_name):
            service.startProcessing()
            logger.info('service %s on site %s started', name, site_label)
            started += 1
    if not started:
        logger.warning('autostart directive %r matched no task service',
                       directive)
    return started


def _sites(root, site_name):
    if site_name in ('', '*'):
        yield '(root)', root
    if site_name == '':
        return
    if site_name == '*':
        for name, obj in root.items():
            if ISite.providedBy(obj):
                yield name, obj
        return
    site = root.get(site_name)
    if site is None or not ISite.providedBy(site):
        logger.error('autostart: site %r does not exist (or is not a site)',
                     site_name)
        return
    yield site_name, site


def _services(site, service_name):
    for registration in site.getSiteManager().registeredUtilities():
        if registration.provided is not ITaskService:
            continue
        if service_name not in ('*', registration.name):
            continue
        try:
            service = registration.component
            valid = ITaskService.providedBy(service) \
                and service._p_oid is not None \
                and service.__parent__ is not None
        except (POSError, AttributeError) as exc:
            valid = False
            logger.warning('task service %r cannot be loaded: %s',
                           registration.name, exc)
        if valid:
            yield registration.name, service
        else:
            logger.warning('registration of task service %r has no usable '
                           'service object; not started', registration.name)
