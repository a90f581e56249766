"""Fixtures for zodbtasks' tests and for applications testing their tasks.

They build the real thing: a FileStorage database in a folder, a ZTK root
folder under ``conn.root()['Application']`` that is a site, sites below it
and task services registered as named utilities in their site managers.
"""
import os
import tempfile

import transaction
import ZODB
import ZODB.FileStorage
import zope.component
from zope.site.folder import Folder
from zope.site.folder import rootFolder
from zope.site.site import LocalSiteManager

from zodbtasks import processor
from zodbtasks.interfaces import ITask
from zodbtasks.interfaces import ITaskService
from zodbtasks.service import TaskService
from zodbtasks.startup import ROOT_NAME
from zodbtasks.task import SimpleTask


def create_database(directory=None, name='Data.fs'):
    """A ZODB database on a FileStorage in ``directory`` (a new temporary
    folder when None); close it with ``close_database``."""
    if directory is None:
        directory = tempfile.mkdtemp(prefix='zodbtasks-')
    storage = ZODB.FileStorage.FileStorage(os.path.join(directory, name))
    return ZODB.DB(storage)


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


def add_service(site, name='jobs', service=None):
    """Store a TaskService in ``site``'s site manager (``default`` folder)
    and register it as the ITaskService utility ``name``."""
    service = TaskService() if service is None else service
    sm = site.getSiteManager()
    sm['default'][name] = service
    sm.registerUtility(service, ITaskService, name=name)
    return service


def register_task(name, task, registry=None):
    """Register ``task`` (an ITask, or a function wrapped in SimpleTask) as
    the task ``name`` in ``registry`` (default: the global registry)."""
    if not ITask.providedBy(task):
        task = SimpleTask(task)
    if registry is None:
        registry = zope.component.getGlobalSiteManager()
    registry.registerUtility(task, ITask, name=name)
    return task


def open_service(db, oid):
    """A new connection of ``db`` with its own transaction manager, and the
    object ``oid`` loaded in it: for two-connection tests."""
    tm = transaction.TransactionManager()
    connection = db.open(transaction_manager=tm)
    return connection, tm, connection.get(oid)
