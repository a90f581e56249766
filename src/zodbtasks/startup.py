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

More keys: ``processors`` (``on`` or ``off``, default ``on``): with
``off`` this process starts no processor (web processes that only serve,
next to ``zodbtasks-worker`` processes); ``threads`` (default 1): how many
processor threads each started service gets; ``max-input-size`` (bytes,
default 1048576): the largest pickled input or result of a job;
``keep-completed``, ``keep-failed``, ``keep-cancelled`` (durations such
as ``7d``; default ``keep``): how long finished jobs are kept before the
processors remove them (see ``zodbtasks.retention``);
``service-database`` (the name of a ``<zodb NAME>`` section): the database
that task services added from then on are stored in (see
``zodbtasks.databases``).
"""
import logging

from ZODB.POSException import POSError
from zope.component.interfaces import ISite

from zodbtasks import limits
from zodbtasks import processor
from zodbtasks.interfaces import ITaskService
from zodbtasks.productconfig import product_config
from zodbtasks.transactions import own_connection

logger = logging.getLogger(__name__)

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


def _config():
    return product_config()


def getAutostartServiceNames():
    """The autostart directives of the product configuration."""
    return parse_autostart(_config().get('autostart'))


def processors_enabled(config=None):
    """Whether this process runs processors (``processors on|off``)."""
    value = (_config() if config is None else config).get('processors', 'on')
    value = value.strip().lower()
    if value not in ('on', 'off', 'true', 'false', 'yes', 'no', '1', '0'):
        raise ValueError('processors %r in <product-config %s>: expected on '
                         'or off' % (value, PRODUCT))
    return value in ('on', 'true', 'yes', '1')


def thread_count(config=None):
    """Processor threads per started service (``threads N``)."""
    return _whole_number(config, 'threads', 1, 'a whole number')


def max_input_size(config=None):
    """The largest pickled input or result in bytes (``max-input-size N``,
    default ``limits.DEFAULT_MAX_INPUT_SIZE``)."""
    return _whole_number(config, 'max-input-size',
                         limits.DEFAULT_MAX_INPUT_SIZE, 'a number of bytes')


def _whole_number(config, key, default, what):
    """The product-config value of ``key``, a whole number >= 1."""
    value = (_config() if config is None else config).get(key)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise ValueError('%s %r in <product-config %s>: expected %s >= 1'
                         % (key, value, PRODUCT, what))
    return number


def bootStrapSubscriber(event):
    """Start the services named by the autostart directives; subscribed to
    IDatabaseOpenedWithRoot."""
    try:
        directives = getAutostartServiceNames()
        enabled, threads = processors_enabled(), thread_count()
        max_input_size()
    except ValueError as exc:
        logger.error('%s; no task service was started', exc)
        return
    if not directives:
        return
    if not enabled:
        logger.info('processors off: this process starts no task service')
        return
    with own_connection(event.database) as (connection, _):
        root = connection.root().get(ROOT_NAME)
        if root is None:
            logger.error('no root folder %r in the database; no task '
                         'service was started', ROOT_NAME)
            return
        for directive in directives:
            start_directive(root, directive, threads)


def start_directive(root, directive, threads=1):
    """Start the services ``directive`` names under root folder ``root``,
    with ``threads`` processor threads each; return how many were
    started."""
    try:
        found = find_services(root, directive)
    except LookupError as exc:
        logger.error('autostart: %s', exc.args[0])
        found = []
    for site_name, service_name, service in found:
        processor.start(service, threads)
        logger.info('service %s on site %s started', service_name,
                    site_name or '(root)')
    if not found:
        logger.warning('autostart directive %r matched no task service',
                       directive)
    return len(found)


def find_services(root, directive):
    """The task services that ``directive`` (an autostart directive, see
    the module) names under root folder ``root``: a list of ``(site name,
    service name, service)``, the site name ``''`` for the root folder's
    own.  Registrations whose service cannot be loaded are skipped with a
    warning; LookupError names a site that is missing or not a site."""
    site_name, _, service_name = directive.partition('@')
    return [(name, registered, service)
            for name, site in sites(root, site_name)
            for registered, service in _site_services(site, service_name)]


def sites(root, site_name):
    """``[(site name, site)]`` for the site part of a directive (``''``,
    ``'*'`` or a name); LookupError names a site that is missing or not a
    site, or a root that is not one."""
    if site_name in ('', '*'):
        # A Zope application root is not a site unless made one.
        own = [('', root)] if ISite.providedBy(root) else []
        if site_name == '':
            if not own:
                raise LookupError('the root folder is not a site (it has '
                                  'no component registry of its own)')
            return own
        return own + [(name, obj) for name, obj in root.items()
                      if ISite.providedBy(obj)]
    site = root.get(site_name)
    if site is None or not ISite.providedBy(site):
        raise LookupError('no site %r below the root folder (or it is not a '
                          'site)' % site_name)
    return [(site_name, site)]


def _site_services(site, service_name):
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
                           'service object; skipped', registration.name)
