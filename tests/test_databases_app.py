"""An instance whose zope.conf has two ``<zodb>`` sections, the second one
(``jobs``) named by ``service-database``: the server, the worker and the
operator's command with task services stored there
(zodbtasks.databases)."""
import io
import os
import re
import threading

import pytest
import webtest
import ZConfig
import zope.app.appsetup
from zope.site.folder import Folder
from zope.site.site import LocalSiteManager

import doc_commands
from zodbtasks import databases
from zodbtasks import testing
from zodbtasks.app import ops
from zodbtasks.app import server
from zodbtasks.app import session
from zodbtasks.app import worker
from zodbtasks.app.testing import quiet_instance
from zodbtasks.app.testing import root_logger_kept
from zodbtasks.interfaces import COMPLETED
from zodbtasks.interfaces import ITaskService
from zodbtasks.service import TaskService
from zodbtasks.transactions import own_connection

from activation_content import Document

DEADLINE = 30.0
DOC = os.path.join('docs', 'deployment.rst')
SCHEMA = os.path.join(os.path.dirname(zope.app.appsetup.__file__), 'schema',
                      'schema.xml')
JOBS_ZODB = """
<zodb jobs>
  <filestorage>
    path $INSTANCE/Jobs.fs
  </filestorage>
</zodb>
"""


@pytest.fixture
def root_logger():
    with root_logger_kept() as root:
        yield root


class Instance:
    """A fresh instance (no service started) with a second database
    ``jobs`` for its task services."""

    def __init__(self, folder):
        self.config, self.password = quiet_instance(folder)
        with open(self.config) as f:
            self.text = f.read()
        self.text, found = re.subn(r'^</zodb>\n', '</zodb>\n' + JOBS_ZODB,
                                   self.text, count=1, flags=re.MULTILINE)
        assert found == 1
        self.configure()

    def configure(self, autostart=''):
        text, found = re.subn(
            r'^<product-config zodbtasks>\n',
            '<product-config zodbtasks>\n  service-database jobs\n'
            + ('  autostart %s\n' % autostart if autostart else ''),
            self.text, count=1, flags=re.MULTILINE)
        assert found == 1
        with open(self.config, 'w') as f:
            f.write(text)


@pytest.fixture
def instance(tmp_path, root_logger):
    return Instance(str(tmp_path))


def _main(dbs):
    [main] = [db for db in dbs if db.database_name == '']
    return main


def _demo(connection):
    return connection.root()['Application']['demo']


def _service(connection, name):
    return _demo(connection).getSiteManager().getUtility(ITaskService, name)


def _database_of(obj):
    return obj._p_jar.db().database_name


def _register_touch():
    """The task ``touch``: reindex the demo's document (main database);
    the Event is set once the job's transaction committed."""
    committed = threading.Event()

    def touch(service, jobid, input):
        service._p_jar.transaction_manager.get().addAfterCommitHook(
            lambda ok: ok and committed.set())
        return service.getSite()['doc'].reindex()
    testing.register_task('touch', testing.ServiceTask(touch))
    return committed


def _run_touch(db, name):
    """Add a ``touch`` job to the demo's service ``name``; return its
    status and the document's count once the processor committed it."""
    committed = _register_touch()
    with own_connection(db) as (connection, tm):
        with tm:
            service = _service(connection, name)
            assert service.isProcessing()
            jobid = service.add('touch')
        assert committed.wait(DEADLINE)
        tm.begin()
        return (_service(connection, name).jobs[jobid].status,
                _demo(connection)['doc'].indexed)


def _manager(app, password):
    browser = webtest.TestApp(app)
    browser.authorization = ('Basic', ('admin', password))
    return browser


def _add_through_the_zmi(browser, name):
    form = browser.get('/demo/++etc++site/default/@@+/index.html').forms[0]
    form['type_name'] = 'BrowserAdd__zodbtasks.service.TaskService'
    form['id'] = name
    form.submit()
    register = browser.get('/demo/++etc++site/default/%s/@@addRegistration'
                           '.html' % name).forms[0]
    register['field.name'] = name
    register['field.provided'] = [
        value for value, _, _ in register['field.provided'].options
        if 'ITaskService' in value][0]
    register.submit('field.actions.register')


def test_the_server_places_new_services_in_jobs_and_autostart_starts_them(
        instance):
    app, dbs = server.make_app(instance.config)
    try:
        assert sorted(db.database_name for db in dbs) == ['', 'jobs']
        main = _main(dbs)
        with own_connection(main) as (connection, tm):
            demo_service = _service(connection, 'jobs')   # the bootstrap's
            assert _database_of(demo_service) == 'jobs'
            assert _database_of(_demo(connection)) == ''
            with tm:
                _demo(connection)['doc'] = Document()
        browser = _manager(app, instance.password)
        _add_through_the_zmi(browser, 'mail')
        control = browser.get('/++etc++process/@@ZODBControl.html')
        assert 'jobs' in control.text   # where the docs say to pack it
        form = browser.get('/demo/++etc++site/default/mail/@@addJob.html'
                           ).forms[0]       # a POST with its CSRF token
        form['task'], form['input'] = 'echo', '"from the ZMI"'
        form.submit('save', status=302)
        with own_connection(main) as (connection, _):
            mail = _service(connection, 'mail')
            assert _database_of(mail) == 'jobs'
            assert [job.input for job in mail.jobs.values()] == [
                'from the ZMI']
            assert sorted(databases.stored_services(
                connection.get_connection('jobs')), key=id) == sorted(
                [mail, _service(connection, 'jobs')], key=id)
    finally:
        server.close_databases(dbs)
    instance.configure(autostart='demo@mail')
    app, dbs = server.make_app(instance.config)
    try:
        assert _run_touch(_main(dbs), 'mail') == (COMPLETED, 1)
    finally:
        server.close_databases(dbs)


def test_the_worker_and_the_operator_command_work_on_services_in_jobs(
        instance):
    dbs = worker.open_application(worker.read_config(instance.config))
    try:
        assert [db.database_name for db in dbs] == ['', 'jobs']
        with own_connection(dbs[0]) as (connection, tm):
            with tm:
                demo = _demo(connection)
                demo['doc'] = Document()
                sm = demo.getSiteManager()
                sm['default']['mail'] = TaskService()
                sm.registerUtility(sm['default']['mail'], ITaskService,
                                   'mail')
                # a site built in memory, then added: placed on the add
                site = Folder()
                site.setSiteManager(LocalSiteManager(site))
                site.getSiteManager()['default']['jobs'] = TaskService()
                connection.root()['Application']['other'] = site
            assert _database_of(sm['default']['mail']) == 'jobs'
            assert _database_of(site.getSiteManager()['default']['jobs']) \
                == 'jobs'
            assert _database_of(site) == ''
        assert worker.start_processors(dbs[0], ['demo@mail'], 1) == 1
        assert _run_touch(dbs[0], 'mail') == (COMPLETED, 1)
    finally:
        worker.stop_processors()
        for db in dbs:
            db.close()
    out = io.StringIO()
    assert ops.main(['--config', instance.config, '--service', 'demo@mail',
                     'pause'], out=out) == 0
    assert 'demo@mail' in out.getvalue()
    main = session.open_database(instance.config)
    try:
        assert sorted(main.databases) == ['', 'jobs']
        with own_connection(main) as (connection, _):
            assert _service(connection, 'mail').isPaused()
            assert not _service(connection, 'jobs').isPaused()
    finally:
        session.close_databases(main)


# -- the zope.conf and zeo.conf of docs/deployment.rst ---------------------------

def _zope_conf(tmp_path, block):
    text = ('%%define INSTANCE %s\nsite-definition %s\n%s\n'
            '<eventlog>\n  <logfile>\n    path STDOUT\n  </logfile>\n'
            '</eventlog>\n' % (tmp_path, tmp_path / 'site.zcml', block))
    options, _ = ZConfig.loadConfigFile(ZConfig.loadSchema(SCHEMA),
                                        io.StringIO(text))
    return options


def test_the_documented_filestorage_zope_conf_has_two_databases(tmp_path):
    options = _zope_conf(tmp_path, doc_commands.block_with(
        DOC, '<zodb jobs>\n  <filestorage>'))
    assert [factory.name for factory in options.databases] == [None, 'jobs']
    assert [factory.config.storage.config.path
            for factory in options.databases] == [
        str(tmp_path / 'Data.fs'), str(tmp_path / 'Jobs.fs')]
    product = worker.product_config(options)
    assert databases.configured_database(product) == 'jobs'


def test_the_documented_zeo_clients_use_two_storages_of_one_server(tmp_path):
    options = _zope_conf(tmp_path, doc_commands.block_with(
        DOC, '<zodb jobs>\n  <zeoclient>'))
    assert [factory.name for factory in options.databases] == [None, 'jobs']
    storages = [factory.config.storage.config
                for factory in options.databases]
    assert [storage.storage for storage in storages] == ['1', 'jobs']
    assert {str(server.address) for storage in storages
            for server in storage.server} == {"('10.0.0.10', 8100)"}


def test_the_documented_zeo_server_serves_both_storages(tmp_path):
    from ZEO.runzeo import ZEOOptions
    (tmp_path / 'log').mkdir()
    zeo = doc_commands.block_with(DOC, '<zeo>')
    storages = doc_commands.block_with(DOC, '<filestorage jobs>')
    zeo = re.sub(r'^<filestorage 1>\n.*?^</filestorage>\n', storages, zeo,
                 count=1, flags=re.MULTILINE | re.DOTALL)
    conf = tmp_path / 'zeo.conf'
    conf.write_text(zeo.replace('/srv/zodbtasks/var', str(tmp_path)))
    options = ZEOOptions()
    options.realize(['-C', str(conf)])
    assert [storage.name for storage in options.storages] == ['1', 'jobs']
    assert [storage.config.path for storage in options.storages] == [
        str(tmp_path / 'Data.fs'), str(tmp_path / 'Jobs.fs')]
