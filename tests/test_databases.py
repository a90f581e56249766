"""Task services in a database of their own: a multi-database of two
FileStorages, the main one ('') with the root folder and a site, and
'jobs' with the site's task service (zodbtasks.databases)."""
import logging
import threading
import time

import pytest
import transaction
import zope.app.appsetup.product
import zope.component
import zope.component.event
import zope.processlifetime
from ZODB.POSException import POSKeyError
from zope.site.folder import Folder

from zodbtasks import activate
from zodbtasks import databases
from zodbtasks import processor
from zodbtasks import testing
from zodbtasks.interfaces import COMPLETED
from zodbtasks.interfaces import ERROR
from zodbtasks.interfaces import ITaskService
from zodbtasks.interfaces import TaskError
from zodbtasks.service import TaskService
from zodbtasks.transactions import own_connection

from activation_content import Document

DEADLINE = 30.0


class MultiDatabase:
    """The two databases of a folder, opened again at will (so that what
    a test reads after a pack comes from the files, not from caches)."""

    def __init__(self, folder):
        self.folder = folder
        self.main = self.jobs = None
        self.open()

    def open(self):
        self.main, self.jobs = testing.create_databases(self.folder)

    def close(self):
        processor.stop_all()
        self.main.close()
        self.jobs.close()

    def reopen(self):
        self.close()
        self.open()

    def pack(self):
        """Pack 'jobs', then the main database, at a time after every
        commit so far; then open both again."""
        when = time.time() + 1.0
        self.jobs.pack(when)
        self.main.pack(when)
        self.reopen()

    def read(self, func):
        """``func(root folder)`` in a new connection of the main database
        (the service reached through it, as the application does)."""
        with own_connection(self.main) as (connection, tm):
            with tm:
                return func(connection.root()['Application'])


@pytest.fixture
def multi(tmp_path):
    dbs = MultiDatabase(str(tmp_path))
    yield dbs
    dbs.close()


@pytest.fixture
def db(multi):
    """The main database (conftest's ``conn`` opens it)."""
    return multi.main


@pytest.fixture
def site(conn):
    root = testing.setup_root(conn)
    folder = testing.add_site(root, 'site1')
    folder['doc'] = Document()
    transaction.commit()
    return folder


@pytest.fixture
def service(site):
    svc = testing.add_service(site, 'jobs', database='jobs')
    transaction.commit()
    return svc


def _touch(service, jobid, input):
    """Change an object of the main database: the site's document."""
    return service.getSite()['doc'].reindex()


def _touch_then_fail(service, jobid, input):
    _touch(service, jobid, input)
    service.add('echo', 'made by a failing task')   # a write in 'jobs'
    raise TaskError('failed after touching')


@pytest.fixture
def tasks():
    testing.register_task('echo', lambda input: input)
    testing.register_task('touch', testing.ServiceTask(_touch))
    testing.register_task('touch-fail', testing.ServiceTask(_touch_then_fail))


@pytest.fixture
def events():
    """Object events dispatched as zope.component's ZCML does, and the
    subscribers of zodbtasks.databases."""
    zope.component.provideHandler(zope.component.event.objectEventNotify)
    zope.component.provideHandler(databases.service_added)
    zope.component.provideHandler(databases.service_removed)


def _configure(**config):
    zope.app.appsetup.product.setProductConfiguration('zodbtasks', config)


def _indexed(root):
    return root['site1']['doc'].indexed


def _service(root):
    return root['site1'].getSiteManager().getUtility(ITaskService, 'jobs')


def _status(jobid):
    return lambda root: _service(root).jobs[jobid].status


# -- place_service -----------------------------------------------------------

def test_a_placed_service_lives_in_its_database_and_is_kept_by_its_root(
        multi, conn, site, service, tasks):
    jobid = service.add('echo', 1)
    transaction.commit()
    assert service._p_jar.db() is multi.jobs
    assert service.jobs._p_jar.db() is multi.jobs
    assert service.jobs[jobid]._p_jar.db() is multi.jobs
    assert service.__parent__._p_jar.db() is multi.main
    jobs_connection = conn.get_connection('jobs')
    assert databases.stored_services(jobs_connection) == [service]
    assert databases.SERVICES_KEY not in conn.root()
    assert multi.read(_service)._p_jar.db() is multi.jobs


def test_an_unknown_database_is_refused_naming_the_key_and_the_databases(
        conn, site):
    with pytest.raises(LookupError) as info:
        testing.add_service(site, 'jobs', database='nope')
    message = info.value.args[0]
    assert "no database 'nope'" in message
    assert 'service-database in <product-config zodbtasks>' in message
    assert "the databases are '' and 'jobs'" in message


def test_a_stored_service_is_not_moved(conn, site, service):
    with pytest.raises(ValueError, match="stored already, in database "
                       "'jobs': zodbtasks does not move"):
        databases.place_service(service, site, '')


def test_a_container_that_is_not_stored_is_refused(conn, site):
    with pytest.raises(ValueError, match='not stored in a database'):
        databases.place_service(TaskService(), Folder(), 'jobs')


def test_the_containers_own_database_needs_no_root_entry(multi, conn, site):
    service = testing.add_service(site, 'jobs', database='')
    transaction.commit()
    assert service._p_jar.db() is multi.main
    assert databases.SERVICES_KEY not in conn.root()
    assert databases.stored_services(conn.get_connection('jobs')) == []


def test_a_new_site_and_its_service_commit_in_one_transaction(multi, conn,
                                                              site):
    site2 = testing.add_site(site.__parent__, 'site2')
    service = testing.add_service(site2, 'jobs', database='jobs')
    transaction.commit()
    assert site2._p_jar.db() is multi.main
    assert service._p_jar.db() is multi.jobs
    assert multi.read(lambda root: root['site2'].getSiteManager().getUtility(
        ITaskService, 'jobs')._p_jar.db().database_name) == 'jobs'


# -- jobs across both databases ---------------------------------------------

def test_process_commits_the_task_and_the_job_together(multi, service,
                                                       tasks):
    jobid = service.add('touch')
    transaction.commit()
    assert service.process() == 1
    assert multi.read(_indexed) == 1
    assert multi.read(_status(jobid)) == COMPLETED


def test_a_failing_task_changes_neither_database(multi, service, tasks,
                                                 quiet):
    jobid = service.add('touch-fail')
    transaction.commit()
    service.process()
    assert multi.read(_indexed) == 0
    assert multi.read(lambda root: len(_service(root).jobs)) == 1
    assert multi.read(_status(jobid)) == ERROR


class RefusingVote:
    """A data manager whose vote fails after both storages voted."""

    transaction_manager = None

    def sortKey(self):
        return '~ after the storages'

    def abort(self, txn):
        pass

    tpc_begin = commit = tpc_abort = abort

    def tpc_vote(self, txn):
        raise RuntimeError('vote refused')

    def tpc_finish(self, txn):
        raise AssertionError('never reached')


def test_a_commit_failing_in_the_vote_changes_neither_storage(
        multi, service, tasks, quiet):
    def touch_and_refuse(svc, jobid, input):
        transaction_manager = svc._p_jar.transaction_manager
        transaction_manager.get().join(RefusingVote())
        return _touch(svc, jobid, input)
    testing.register_task('refused', testing.ServiceTask(touch_and_refuse))
    jobid = service.add('refused')
    transaction.commit()
    main_before = multi.main.lastTransaction()
    service.process()
    assert multi.main.lastTransaction() == main_before
    assert multi.read(_indexed) == 0
    assert multi.read(_status(jobid)) == ERROR
    assert 'vote refused' in multi.read(
        lambda root: _service(root).jobs[jobid].error)


def test_a_processor_thread_runs_the_job_across_both_databases(
        multi, service, tasks):
    committed = threading.Event()

    def touch_and_signal(svc, jobid, input):
        svc._p_jar.transaction_manager.get().addAfterCommitHook(
            lambda ok: ok and committed.set())
        return _touch(svc, jobid, input)
    testing.register_task('signal', testing.ServiceTask(touch_and_signal))
    [worker] = processor.start(service)
    assert worker.db is multi.jobs
    jobid = service.add('signal')
    transaction.commit()
    assert committed.wait(DEADLINE)
    assert multi.read(_indexed) == 1
    assert multi.read(_status(jobid)) == COMPLETED


def test_activate_calls_an_object_of_the_main_database(multi, site, service):
    jobid = activate(site['doc'], service=service).reindex()
    transaction.commit()
    assert service.process() == 1
    assert multi.read(_indexed) == 1
    assert multi.read(_status(jobid)) == COMPLETED


# -- packs and retention ------------------------------------------------------

def test_packing_both_databases_keeps_the_service_its_jobs_and_its_place(
        multi, service, tasks):
    done = [service.add('touch') for _ in range(3)]
    transaction.commit()
    assert service.process() == 3
    waiting = service.add('echo', 'later', startLater=True)
    transaction.commit()
    transaction.abort()
    multi.pack()
    statuses = multi.read(lambda root: {
        jobid: job.status for jobid, job in _service(root).jobs.items()})
    assert statuses == dict([(jobid, COMPLETED) for jobid in done]
                            + [(waiting, 'startlater')])
    assert multi.read(lambda root: _service(root).checkIndex()) == []
    with own_connection(multi.main) as (connection, tm):
        with tm:
            fresh = _service(connection.root()['Application'])
            assert databases.stored_services(
                connection.get_connection('jobs')) == [fresh]
            jobid = fresh.add('touch')
        assert fresh.process() == 1
    assert multi.read(_indexed) == 4
    assert multi.read(_status(jobid)) == COMPLETED


def test_without_its_root_entry_a_pack_of_jobs_loses_the_service(
        multi, conn, service):
    """The pitfall that the root entry avoids: the main database's
    references do not keep the service alive in 'jobs'."""
    jobs_root = conn.get_connection('jobs').root()
    del jobs_root[databases.SERVICES_KEY][service._p_oid]
    transaction.commit()
    multi.pack()
    with pytest.raises(POSKeyError):
        multi.read(lambda root: _service(root).jobs)


def test_a_removed_service_leaves_the_root_and_a_pack_collects_it(
        multi, conn, site, service, events):
    oid = service._p_oid
    sm = site.getSiteManager()
    sm.unregisterUtility(service, ITaskService, 'jobs')
    del sm['default']['jobs']
    transaction.commit()
    assert databases.stored_services(conn.get_connection('jobs')) == []
    multi.pack()
    with own_connection(multi.jobs) as (connection, _):
        with pytest.raises(POSKeyError):
            connection.get(oid).jobs


def test_retention_removes_finished_jobs_in_the_jobs_database(
        multi, service, tasks):
    for number in range(5):
        service.add('echo', number)
    transaction.commit()
    assert service.process() == 5
    later = time.time() + 10.0
    assert service.removeExpired({COMPLETED: 0}, now=later) == 5
    assert len(service.jobs) == 0 and service.checkIndex() == []
    multi.pack()
    assert multi.read(lambda root: len(_service(root).jobs)) == 0
    assert multi.read(lambda root: _service(root).checkIndex()) == []


# -- service-database in <product-config zodbtasks> ---------------------------

def test_the_configured_database_takes_services_added_to_a_site(
        multi, conn, site, events):
    _configure(**{'service-database': 'jobs'})
    sm = site.getSiteManager()
    sm['default']['mail'] = TaskService()
    transaction.commit()
    assert sm['default']['mail']._p_jar.db() is multi.jobs
    assert databases.stored_services(conn.get_connection('jobs')) == [
        sm['default']['mail']]


def test_services_that_exist_stay_where_they_are(multi, conn, site, events):
    sm = site.getSiteManager()
    sm['default']['old'] = TaskService()
    transaction.commit()
    _configure(**{'service-database': 'jobs'})
    sm['default']['renamed'] = sm['default']['old']
    del sm['default']['old']
    transaction.commit()
    assert sm['default']['renamed']._p_jar.db() is multi.main


def test_without_the_key_services_stay_in_the_main_database(multi, site,
                                                           events):
    sm = site.getSiteManager()
    sm['default']['mail'] = TaskService()
    transaction.commit()
    assert sm['default']['mail']._p_jar.db() is multi.main


def test_an_unknown_configured_database_refuses_the_add(site, events):
    _configure(**{'service-database': 'archive'})
    with pytest.raises(LookupError, match="no database 'archive' for task "
                       r"services \(service-database in"):
        site.getSiteManager()['default']['mail'] = TaskService()


def test_an_unknown_configured_database_is_logged_at_start(multi, caplog):
    _configure(**{'service-database': 'archive'})
    with caplog.at_level(logging.ERROR, logger='zodbtasks.databases'):
        databases.check_configuration(
            zope.processlifetime.DatabaseOpenedWithRoot(multi.main))
    [record] = caplog.records
    assert "no database 'archive'" in record.getMessage()
    assert "'' and 'jobs'" in record.getMessage()


def test_a_known_configured_database_logs_nothing(multi, caplog):
    _configure(**{'service-database': 'jobs'})
    with caplog.at_level(logging.ERROR, logger='zodbtasks.databases'):
        databases.check_configuration(
            zope.processlifetime.DatabaseOpenedWithRoot(multi.main))
    assert caplog.records == []


def test_a_job_of_an_object_removed_from_the_main_database_and_packed_fails(
        multi, conn, site, service, quiet):
    """What the root entry does not cover: references from 'jobs' do not
    keep objects of the main database through its packs."""
    jobid = activate(site['doc'], service=service).reindex()
    transaction.commit()
    del site['doc']
    transaction.commit()
    transaction.abort()
    multi.pack()
    with own_connection(multi.main) as (connection, tm):
        with tm:
            fresh = _service(connection.root()['Application'])
        assert fresh.process() == 1
        tm.begin()
        assert fresh.jobs[jobid].status == ERROR
        assert 'POSKeyError' in fresh.jobs[jobid].error
