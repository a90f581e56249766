"""Task services in a database of their own (a ZODB multi-database).

zope.conf may open several databases: one ``<zodb>`` section each, the
first being the main one, that of the root folder (zope.app.appsetup's
``multi_database``).  With ``service-database NAME`` in ``<product-config
zodbtasks>``, a task service added to a site from then on (the ZMI's "add
task service", the demo's bootstrap, any ``container[name] = service``)
is stored in the database of the ``<zodb NAME>`` section, and so are its
jobs, queues and indexes; its site, its registration and the objects its
tasks change stay in the main database.  Services that exist keep their
database: nothing is moved.  ``place_service`` does the same for code that
makes services itself.

The job's effects on objects of the main database and its status commit
in one transaction over both storages (ZODB's two-phase commit): the
connection of one database reaches the others with ``get_connection``,
under the same transaction manager.

Design note: packing.  A pack collects what cannot be reached from *its
own* database's root; ZODB's ``referencesf`` skips references into other
databases.  A service referenced only from the main database's site
manager would be collected by the first pack of its own database.  So
``place_service`` also references the service from that database's root:
``root['zodbtasks.services']``, an OOBTree from the service's oid to the
service; removing the service (``IObjectRemovedEvent``) drops that entry,
so a pack afterwards gives its space back.  Keyed by oid rather than by
path: a site renamed or moved keeps its entry right.  The main database's
references to the service are cross-database references that a pack of
the main database keeps as they are (it keeps the objects holding them,
which its root reaches).  The other direction is not protected: a job's
input that references an object of the main database does not keep it
alive there; once it is removed from the main database's tree and that
database is packed, the job fails with POSKeyError when it loads it.
Alternatives rejected: ``zc.zodbdgc`` (a multi-database garbage collector
that must replace every ``zeopack``); storing the services in the root of
their database only (they must be ``__parent__``-contained in their site
manager for lookups, security and the ZMI).
"""
import logging

import persistent
import zope.component
from BTrees.OOBTree import OOBTree
from zope.lifecycleevent.interfaces import IObjectAddedEvent
from zope.lifecycleevent.interfaces import IObjectRemovedEvent
from zope.processlifetime import IDatabaseOpenedWithRoot

from zodbtasks.interfaces import ITaskService
from zodbtasks.productconfig import product_config

logger = logging.getLogger(__name__)

PRODUCT = 'zodbtasks'
#: The product-config key naming the database of new task services.
CONFIG_KEY = 'service-database'
#: The key, in the root of a service's own database, of the OOBTree (oid ->
#: service) that keeps services stored there reachable for packs.
SERVICES_KEY = 'zodbtasks.services'
#: How far up the ``__parent__`` chain a stored object is looked for.
MAX_DEPTH = 1000


def configured_database(config=None):
    """The name that ``service-database`` gives (``config``: a product
    config mapping, by default this process's), or None."""
    if config is None:
        config = product_config()
    name = (config.get(CONFIG_KEY) or '').strip()
    return name or None


def database_names(db):
    """The names of the databases of ``db``'s multi-database, sorted."""
    return sorted(db.databases)


def describe_names(names):
    """``'' (the main one) and 'jobs'``-like text for messages."""
    shown = [repr(name) for name in names]
    if len(shown) < 2:
        return ''.join(shown)
    return '%s and %s' % (', '.join(shown[:-1]), shown[-1])


def check_database(db, name):
    """Raise LookupError when ``db``'s multi-database has no database
    ``name``, naming the product-config key and the databases there are."""
    if name in db.databases:
        return
    raise LookupError(
        'no database %r for task services (%s in <product-config %s>): '
        'the databases are %s, the names of the <zodb NAME> sections of '
        "zope.conf (the first one's name is '' when it has none)"
        % (name, CONFIG_KEY, PRODUCT, describe_names(database_names(db))))


def connection_of(obj):
    """The connection of the first stored object of ``obj``'s
    ``__parent__`` chain (``obj`` included), or None."""
    for _ in range(MAX_DEPTH):
        if obj is None:
            return None
        jar = getattr(obj, '_p_jar', None)
        if jar is not None:
            return jar
        obj = getattr(obj, '__parent__', None)
    return None


def place_service(service, container, database_name):
    """Store the new task service ``service`` in the database
    ``database_name`` of the multi-database of ``container`` (the folder
    it goes or went into, e.g. a site manager's ``default`` folder, or an
    object below a stored one); return the service.

    Call it before or after putting the service in ``container``, before
    the commit (once the service is in a container, its own
    ``__parent__`` chain is followed instead of ``container``).  ``service`` is added to that database's connection and,
    when that is not the container's own database, referenced from that
    database's root (see the module's design note).  The new objects
    between ``container`` and the first stored one (a site made in the
    same transaction) are added to the container's database now, so that
    they are not taken for objects of two databases at the commit.

    Raises ValueError when ``service`` is stored already (services are
    never moved) or ``container`` is not below a stored object, and
    LookupError (naming the known databases) for an unknown name.
    """
    if service._p_jar is not None:
        raise ValueError(
            '%r is stored already, in database %r: zodbtasks does not move '
            'task services between databases'
            % (service, service._p_jar.db().database_name))
    start = getattr(service, '__parent__', None) or container
    home = connection_of(start)
    if home is None:
        raise ValueError('%r is not stored in a database (nor anything it '
                         'is in): add it first' % (start,))
    check_database(home.db(), database_name)
    _add_new_ancestors(home, start)
    target = home.get_connection(database_name)
    target.add(service)
    if target is not home:
        services = target.root().get(SERVICES_KEY)
        if services is None:
            services = target.root()[SERVICES_KEY] = OOBTree()
        services[service._p_oid] = service
    logger.info('task service placed in database %r', database_name)
    return service


def _add_new_ancestors(home, obj):
    for _ in range(MAX_DEPTH):
        if obj is None or getattr(obj, '_p_jar', None) is not None:
            return
        if isinstance(obj, persistent.Persistent):
            home.add(obj)
        obj = getattr(obj, '__parent__', None)


def forget_service(service):
    """Drop ``service`` from the services of its database's root (if it is
    there); return whether it was."""
    jar = service._p_jar
    if jar is None or service._p_oid is None:
        return False
    services = jar.root().get(SERVICES_KEY)
    if services is None or service._p_oid not in services:
        return False
    del services[service._p_oid]
    return True


def stored_services(connection):
    """The services that the root of ``connection``'s database keeps
    reachable for packs (``place_service``), as a list."""
    return list(connection.root().get(SERVICES_KEY, {}).values())


@zope.component.adapter(ITaskService, IObjectAddedEvent)
def service_added(service, event):
    """``(ITaskService, IObjectAddedEvent)`` subscriber: a new service goes
    to the ``service-database`` of the product config, when it names one.
    A stored service (moved, or stored by its maker) is left alone; one
    in a tree that is not stored yet is placed when the tree is added
    (zope.container sends the event again to the tree's sublocations)."""
    name = configured_database()
    if name is None or service._p_jar is not None:
        return
    if connection_of(service.__parent__) is None:
        return  # a tree built in memory: placed once it is added
    place_service(service, service.__parent__, name)


@zope.component.adapter(ITaskService, IObjectRemovedEvent)
def service_removed(service, event):
    """``(ITaskService, IObjectRemovedEvent)`` subscriber: a removed
    service is no longer kept reachable by its database's root."""
    if forget_service(service):
        logger.info('task service %r removed from the services of database '
                    '%r', event.oldName, service._p_jar.db().database_name)


@zope.component.adapter(IDatabaseOpenedWithRoot)
def check_configuration(event):
    """``IDatabaseOpenedWithRoot`` subscriber: log an error when
    ``service-database`` names a database that zope.conf does not open
    (adding a task service then fails with the same message)."""
    name = configured_database()
    if name is None:
        return
    try:
        check_database(event.database, name)
    except LookupError as exc:
        logger.error('%s', exc.args[0])
