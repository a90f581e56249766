"""Fixtures for zodbtasks' tests and for applications testing their tasks.

They build the real thing: a FileStorage database in a folder, a ZTK root
folder under ``conn.root()['Application']`` that is a site, sites below it
and task services registered as named utilities in their site managers.
"""
import contextlib
import os
import signal
import subprocess
import tempfile

import ZODB
import ZODB.FileStorage
import zope.component
import zope.interface
from zope.site.folder import Folder
from zope.site.folder import rootFolder
from zope.site.site import LocalSiteManager

from zodbtasks import databases
from zodbtasks import processor
from zodbtasks.interfaces import ITask
from zodbtasks.interfaces import ITaskService
from zodbtasks.service import TaskService
from zodbtasks.startup import ROOT_NAME
from zodbtasks.task import SimpleTask
from zodbtasks.transactions import own_connection

#: Seconds ``stop_process`` waits after SIGTERM before SIGKILL.
STOP_TIMEOUT = 30.0


def create_database(directory=None, name='Data.fs'):
    """A ZODB database on a FileStorage in ``directory`` (a new temporary
    folder when None); close it with ``close_database``."""
    if directory is None:
        directory = tempfile.mkdtemp(prefix='zodbtasks-')
    storage = ZODB.FileStorage.FileStorage(os.path.join(directory, name))
    return ZODB.DB(storage)


def create_databases(directory=None, names=('', 'jobs')):
    """A multi-database of FileStorages ``<name or main>.fs`` in
    ``directory`` (a new temporary folder when None), as zope.conf's
    ``<zodb NAME>`` sections make it: a list of ZODB.DB, the main one
    (named ``names[0]``) first; close each with ``close_database``."""
    if directory is None:
        directory = tempfile.mkdtemp(prefix='zodbtasks-')
    shared = {}
    result = []
    for name in names:
        storage = ZODB.FileStorage.FileStorage(
            os.path.join(directory, '%s.fs' % (name or 'main')))
        result.append(ZODB.DB(storage, database_name=name,
                              databases=shared))
    return result


def close_database(db, timeout=10.0):
    """Stop this process's processors, then close ``db``."""
    processor.stop_all(timeout)
    db.close()


def make_site(folder):
    """Give ``folder`` a local site manager and return the manager."""
    sm = LocalSiteManager(folder)
    folder.setSiteManager(sm)
    return sm


def setup_root(connection):
    """The ZTK root folder of ``connection``, created (as a site) when
    missing."""
    root = connection.root()
    if ROOT_NAME not in root:
        folder = rootFolder()
        make_site(folder)
        root[ROOT_NAME] = folder
    return root[ROOT_NAME]


def add_site(root, name):
    """Add a folder named ``name`` to ``root`` and make it a site."""
    root[name] = Folder()
    make_site(root[name])
    return root[name]


def add_service(site, name='jobs', service=None, database=None):
    """Store a TaskService in ``site``'s site manager (``default`` folder)
    and register it as the ITaskService utility ``name``; with
    ``database``, in that database of the site's multi-database
    (``zodbtasks.databases.place_service``)."""
    service = TaskService() if service is None else service
    sm = site.getSiteManager()
    if database is not None:
        databases.place_service(service, sm['default'], database)
    sm['default'][name] = service
    sm.registerUtility(service, ITaskService, name=name)
    return service


@zope.interface.implementer(ITask)
class ServiceTask:
    """An ITask calling ``func(service, jobid, input)`` (SimpleTask passes
    the input only): for tasks that report progress or reach
    checkpoints."""

    def __init__(self, func):
        self.func = func

    def __call__(self, service, jobid, input):
        return self.func(service, jobid, input)


def register_task(name, task, registry=None):
    """Register ``task`` (an ITask, or a function wrapped in SimpleTask) as
    the task ``name`` in ``registry`` (default: the global registry)."""
    if not ITask.providedBy(task):
        task = SimpleTask(task)
    if registry is None:
        registry = zope.component.getGlobalSiteManager()
    registry.registerUtility(task, ITask, name=name)
    return task


@contextlib.contextmanager
def open_service(db, oid):
    """A ``with`` block on a new connection of ``db`` with its own
    transaction manager: yields ``(connection, tm, object oid)``, for
    two-connection tests; aborts and closes at the end."""
    with own_connection(db) as (connection, tm):
        yield connection, tm, connection.get(oid)


def stop_process(process, timeout=STOP_TIMEOUT):
    """Stop ``process`` (a ``subprocess.Popen``) by its pid: SIGTERM, then
    SIGKILL when it has not ended within ``timeout`` seconds.  Return its
    exit status, or None when it had to be killed."""
    if process.poll() is not None:
        return process.returncode
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        return None
