"""The storage under a processor: ZEO reconnects, outages, and failed
commits.

Three things a worker does here that ZODB and ZEO leave to the
application:

- ``guard_database(db)`` makes a ``ZEO.ClientStorage`` forget the object
  ids it fetched from the server before a reconnect (see the design note).
- ``in_transaction`` (``zodbtasks.transactions``) raises
  ``StorageUnavailable`` when the storage went away, instead of counting
  ``ClientDisconnected`` as a conflict; ``wait_for_storage`` then waits for
  it with back-off, logging once when it goes and once when it comes back.
  A commit whose reply was lost has an unknown outcome: the caller reads
  the state again once the storage is back (``zodbtasks.processor``).
- ``in_transaction`` raises ``CommitFailed`` when a commit failed for a
  reason that is neither a conflict nor an outage; ``reset_connection``
  then drops every object the connection had loaded, since a failed commit
  can leave cached objects that are no longer the database's.

Design note (upstream behaviour, ZEO 5 and 6, ZODB 5 and 6).
``ClientStorage.new_oid()`` hands out ids from a list of 100 it fetched
from the server (``_oids``) and keeps that list across a reconnect.  A
FileStorage server that restarts starts allocating again after the
largest id committed, so the ids a client fetched and did not use yet are
handed out again, to other clients.  Two outcomes, both seen with three
workers and a server restart:

1. Both clients store a new object under the same id: the second commit
   fails with a ConflictError (a new object over a committed one), and
   jobs burn their conflict attempts.
2. A client whose connection has already loaded the other client's object
   under that id makes a new object with it: ``PickleCache`` refuses with
   ``ValueError: A different object already has the same oid``; the abort
   then disowns "the new object" under that id -- ``Connection.
   _invalidate_creating`` deletes the *cached* object and clears its
   ``_p_jar`` and ``_p_oid``.  Objects still holding it in memory (a BTree
   node, the previous bucket) now point at a detached copy: changes made to
   it later are never written, silently.  That is how completed jobs went
   missing from the status sets and counts.

Alternatives considered: a ``ClientStorage`` subclass configured with a
ZConfig section of our own (every deployment would have to change its
``<zeoclient>`` section, and those that do not would keep the defect);
closing and opening the connection after an error (``Connection.close()``
returns it to the database's pool with its cache, and the next ``open()``
hands back that same connection).  Chosen: wrap the methods of the storage
instance once the database is opened (an ``IDatabaseOpened`` subscriber and
``processor.start``), and ghostify the whole cache of a connection whose
commit failed (``cacheMinimize``: no unmodified object keeps a reference to
a detached one, the next access loads it again).  ``new_oid`` is serialized
by a lock and checks the connection generation around each call, so that
no id fetched before a reconnect is handed out after it.  What remains: an
object given an id by ``Connection.add()`` before an outage and committed
after it keeps that id; its commit then conflicts, or fails with the
ValueError above and the processor resets its connection.
"""
import logging
import random
import sys
import threading
import time

from ZODB.POSException import StorageError
from transaction.interfaces import TransientError

try:
    from ZEO.Exceptions import ClientDisconnected
except ImportError:  # pragma: no cover - ZEO is an optional dependency
    class ClientDisconnected(Exception):
        """Stands for ZEO's exception when ZEO is not installed."""

logger = logging.getLogger(__name__)

#: First wait for a storage that went away (seconds); doubles up to MAX.
OUTAGE_BACK_OFF = 0.05
#: Longest wait between two looks at a storage that went away (seconds).
OUTAGE_BACK_OFF_MAX = 2.0


class StorageUnavailable(StorageError):
    """The storage went away (a ZEO server restart, a lost connection).

    Not a TransientError: retrying at once cannot help, and an outage must
    not use up a job's conflict attempts.  When it comes from a commit,
    the commit may have happened (its reply was lost): read again once
    ``wait_for_storage`` returned.
    """


class CommitFailed(StorageError):
    """A commit failed for a reason that is neither a conflict nor an
    outage.  The connection's cache may hold detached objects: call
    ``reset_connection`` before using it again."""


#: The DB-API drivers whose disconnections are outages (RelStorage's
#: ``disconnected_exceptions``: OperationalError and InterfaceError).
DRIVERS = ('psycopg2', 'psycopg', 'pg8000', 'MySQLdb', 'pymysql',
           'cx_Oracle', 'oracledb')


def _outage_types():
    types = [ClientDisconnected, StorageUnavailable]
    for name in DRIVERS:
        module = sys.modules.get(name)  # only drivers in use are loaded
        for kind in ('OperationalError', 'InterfaceError'):
            found = getattr(module, kind, None)
            if isinstance(found, type):
                types.append(found)
    replica = sys.modules.get('relstorage.adapters.interfaces')
    closed = getattr(replica, 'ReplicaClosedException', None)
    if isinstance(closed, type):
        types.append(closed)
    return tuple(types)


def is_unavailable(exc):
    """Whether ``exc`` says that the storage went away: a ZEO client
    disconnected, or the database under RelStorage (its driver's
    disconnection errors)."""
    return isinstance(exc, _outage_types())


def can_wait(db):
    """Whether ``db``'s storage says when it is back (a ZEO client);
    others are simply tried again after a pause."""
    return getattr(db.storage, 'is_connected', None) is not None


def watches_commits(db):
    """Whether ``db.lastTransaction()`` is a cheap, thread-safe read of
    what this process knows (FileStorage, ZEO); RelStorage's runs a query
    on a cursor the threads of a process share."""
    return not type(db.storage).__module__.startswith('relstorage')


def is_conflict(exc):
    """Whether ``exc`` is worth retrying at once (a conflict)."""
    return isinstance(exc, TransientError) and not is_unavailable(exc)


def is_connected(db):
    """Whether ``db``'s storage can be reached (always, but for ZEO)."""
    check = getattr(db.storage, 'is_connected', None)
    return True if check is None else bool(check())


def wait_for_storage(db, name, stop=None, sleep=None):
    """Wait until ``db``'s storage is connected; log once when it is not
    and once when it is back.  Return False when ``stop`` (an Event) was
    set first, True otherwise.  ``name`` names the waiter in the log."""
    if is_connected(db):
        return True
    if sleep is None:
        sleep = stop.wait if stop is not None else time.sleep
    logger.warning('%s: the storage is unavailable; waiting for it', name)
    began, delay = time.monotonic(), OUTAGE_BACK_OFF
    while not is_connected(db):
        if stop is not None and stop.is_set():
            logger.warning('%s: stopped while waiting for the storage', name)
            return False
        sleep(delay * random.uniform(0.75, 1.25))
        delay = min(delay * 2, OUTAGE_BACK_OFF_MAX)
    logger.info('%s: the storage is back after %.1fs', name,
                time.monotonic() - began)
    return True


def reconnected_within(db, seconds):
    """Whether ``db``'s guarded ZEO client reconnected less than
    ``seconds`` ago.

    A sweeper waits a whole lease after a reconnect: during an outage
    longer than a lease no worker could renew its lease, and the live ones
    need that long to renew it once the server is back."""
    at = getattr(db.storage, '_zodbtasks_reconnected', None)
    return at is not None and time.monotonic() - at < seconds


def reset_connection(connection):
    """Abort ``connection``'s transaction and ghostify every object in its
    cache, so that none refers to an object a failed commit detached (see
    the design note)."""
    connection.transaction_manager.abort()
    connection.cacheMinimize()


# -- new object ids after a reconnect -----------------------------------------

def guard_database(db):
    """Make ``db``'s storage forget the object ids it fetched before a
    reconnect, when it is a ZEO ClientStorage (see the design note).
    Idempotent; return whether the storage is guarded."""
    storage = db.storage
    if getattr(storage, '_zodbtasks_oid_guard', False):
        return True
    if not all(hasattr(storage, name) for name in (
            '_oids', '_connection_generation', 'notify_connected',
            'notify_disconnected', 'new_oid')):
        return False
    _install_guard(storage)
    # Connections opened before keep the storage's methods they looked up
    # (ZODB.mvccadapter copies them onto each connection's instance): let
    # them look ``new_oid`` up again.
    for instance in list(getattr(db._mvcc_storage, '_instances', ())):
        instance.__dict__.pop('new_oid', None)
    return True


def _install_guard(storage):
    lock = threading.Lock()
    new_oid = storage.new_oid
    notify_connected = storage.notify_connected
    notify_disconnected = storage.notify_disconnected

    def forget_oids():
        if storage._oids:
            logger.info('%s: forgetting %d object ids fetched before the '
                        'reconnect', storage.__name__, len(storage._oids))
        del storage._oids[:]

    def guarded_new_oid():
        with lock:
            while True:
                generation = storage._connection_generation
                oid = new_oid()
                if storage._connection_generation == generation:
                    return oid
                forget_oids()  # fetched across a reconnect: may be stale

    def guarded_notify_connected(conn, info):
        forget_oids()
        if storage._connection_generation:  # a reconnect
            storage._zodbtasks_reconnected = time.monotonic()
        return notify_connected(conn, info)

    def guarded_notify_disconnected():
        forget_oids()
        return notify_disconnected()

    storage.new_oid = guarded_new_oid
    storage.notify_connected = guarded_notify_connected
    storage.notify_disconnected = guarded_notify_disconnected
    storage._zodbtasks_oid_guard = True


def guard_opened_database(event):
    """``IDatabaseOpened`` subscriber: ``guard_database`` for
    ``event.database`` and the other databases of its multi-database (a
    ``<zodb NAME>`` section of its own, ``zodbtasks.databases``), in web
    and worker processes alike."""
    for db in [event.database] + [
            other for other in getattr(event.database, 'databases',
                                       {}).values()
            if other is not event.database]:
        if guard_database(db):
            logger.debug('guarded the object ids of %s', db)
