"""Throwaway PostgreSQL clusters for the RelStorage tests.

- ``postgresql``: one cluster per test session, made with ``initdb`` in a
  temporary folder and started with ``pg_ctl`` on a free 127.0.0.1 port
  (its Unix socket in that folder too); stopped (``pg_ctl stop -m fast``,
  then SIGKILL of its postmaster's pid) and removed at the end.  As root,
  the folder belongs to the ``postgres`` user and the PostgreSQL
  programs run as that user (``runuser``): they refuse to run as root
  (``cluster.Cluster``, which bench/bench_relstorage.py uses too).
- ``pg_dsn``: a new database in that cluster for each test, its DSN.
- ``relstorage_db``: a history-free RelStorage ZODB database on it, made
  from a ZConfig ``<relstorage>`` section as a zope.conf would have it.
- ``rs_instance``, ``workers`` and ``rs_service``: what tests/zeo has
  for ZEO (an instance folder, ``zodbtasks-worker`` processes of it, this
  process's view of the service ``zeo@jobs``), on that database: the
  instance's zope.conf starts with ``%import relstorage`` and its
  ``<zodb>`` section has a ``<relstorage>`` one.

When PostgreSQL, RelStorage or psycopg2 are missing, the tests are
skipped, saying what is missing (``make system-deps`` installs
PostgreSQL as root with apt-get; the test extras bring the rest).
"""
import pytest

from zeo import tasks
from zeo.conftest import Service
from zeo.conftest import Workers
from zeo.conftest import make_instance
from zodbtasks import testing

from .cluster import Cluster
from .cluster import missing
from .cluster import relstorage_config
from .cluster import relstorage_section


@pytest.fixture(scope='session')
def postgresql():
    reason = missing()
    if reason:
        pytest.skip(reason)
    cluster = Cluster()
    try:
        cluster.initdb()
        cluster.start()
        yield cluster
    finally:
        cluster.remove()


@pytest.fixture
def pg_dsn(postgresql):
    """The DSN of a new database of the session's cluster (dropped after
    the test; the cluster is running again if the test stopped it)."""
    name = postgresql.create_database()
    try:
        yield postgresql.dsn(name)
    finally:
        if postgresql.pid is None:
            postgresql.start()
        postgresql.drop_database(name)


@pytest.fixture
def relstorage_db(pg_dsn):
    import ZODB.config
    db = ZODB.config.databaseFromString(relstorage_config(pg_dsn))
    try:
        yield db
    finally:
        testing.close_database(db)


@pytest.fixture
def rs_instance(tmp_path, pg_dsn):
    """An instance folder whose database is ``pg_dsn``'s, with
    ``autostart`` empty and ``processors off`` (the workers are told
    what to start); its zope.conf's path."""
    folder = tmp_path / 'instance'
    folder.mkdir()
    return make_instance(str(folder), relstorage_section(pg_dsn),
                         imports=['relstorage'])


@pytest.fixture
def workers(rs_instance, tmp_path):
    started = Workers(rs_instance, str(tmp_path / 'runs.txt'))
    try:
        yield started
    finally:
        started.close()


@pytest.fixture
def rs_service(relstorage_db):
    tasks.register()
    service = Service(relstorage_db)
    try:
        yield service
    finally:
        service.close()
