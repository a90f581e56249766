"""The application server: the WSGI application of a fresh instance (with
WebTest, in this process) and the real ``zodbtasks-server`` process."""
import base64
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
import webtest
from zope.component.interfaces import ISite

from zodbtasks import testing
from zodbtasks.app import instance
from zodbtasks.app import server
from zodbtasks.app.testing import quiet_instance
from zodbtasks.app.testing import root_logger_kept
from zodbtasks.interfaces import CRONJOB
from zodbtasks.interfaces import ITaskService
from zodbtasks.transactions import own_connection

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLE = os.path.join(HERE, os.pardir, 'etc', 'zope.conf.sample')
SERVICE = '/demo/++etc++site/default/jobs'
#: How long the real server may take to start, and to stop.
DEADLINE = 20.0


@pytest.fixture
def root_logger():
    with root_logger_kept() as root:
        yield root


@pytest.fixture
def started(tmp_path, root_logger):
    """The application of a fresh instance, its databases and password.

    Loading the ZCML fills global registries; conftest's
    zope.component.testing tearDown empties them after each test.
    """
    config, password = quiet_instance(str(tmp_path))
    app, databases = server.make_app(config)
    yield app, databases, password
    server.close_databases(databases)


@pytest.fixture
def browser(started):
    app, _, _ = started
    return webtest.TestApp(app)


@pytest.fixture
def manager(started):
    app, _, password = started
    browser = webtest.TestApp(app)
    browser.authorization = ('Basic', ('admin', password))
    return browser


def _challenged(response):
    assert response.status_int == 401
    assert response.headers['WWW-Authenticate'] == 'basic realm="Zope"'


# -- prepare_instance: the first start -------------------------------------

def test_first_start_prints_the_generated_password_once(tmp_path):
    config = os.path.join(str(tmp_path), 'var', 'zope.conf')
    lines = []
    server.prepare_instance(config, SAMPLE, {}, out=lines.append)
    server.prepare_instance(config, SAMPLE, {}, out=lines.append)
    [line] = lines
    match = re.fullmatch(
        r"Created the manager login 'admin' with password: (\S+) \(stored "
        r"hashed in (\S+); set ZODBTASKS_ADMIN_PASSWORD to choose it\)",
        line)
    assert match.group(2) == os.path.join(os.path.dirname(config),
                                          'principals.zcml')
    with open(match.group(2)) as f:
        assert match.group(1) not in f.read()


def test_password_variable_is_used_without_printing(tmp_path):
    config = os.path.join(str(tmp_path), 'zope.conf')
    lines = []
    environ = {'ZODBTASKS_ADMIN_PASSWORD': 'chosen'}
    server.prepare_instance(config, SAMPLE, environ, out=lines.append)
    server.prepare_instance(config, SAMPLE, environ, out=lines.append)
    assert lines == []


def test_main_reports_a_missing_sample(tmp_path, capsys):
    status = server.main(['--config', str(tmp_path / 'var' / 'zope.conf'),
                          '--sample', str(tmp_path / 'nosuch')])
    assert status == 2
    assert capsys.readouterr().err.startswith(
        'zodbtasks-server: cannot read the zope.conf sample ')


def test_parse_args_defaults():
    args = server.parse_args([])
    assert (args.config, args.sample, args.host, args.port) == (
        os.path.join('var', 'zope.conf'),
        os.path.join('etc', 'zope.conf.sample'), '127.0.0.1', 8080)


# -- the WSGI application, in this process ----------------------------------

def test_anonymous_is_challenged_on_the_root_folder(browser):
    _challenged(browser.get('/@@contents.html', status=401))


def test_anonymous_is_challenged_on_the_demo_service(browser):
    _challenged(browser.get(SERVICE + '/@@SelectedManagementView.html',
                            status=401))


def test_wrong_password_is_challenged(started):
    browser = webtest.TestApp(started[0])
    browser.authorization = ('Basic', ('admin', 'not the password'))
    _challenged(browser.get('/@@contents.html', status=401))


def test_manager_sees_the_root_folder_in_rotterdam(manager):
    response = manager.get('/@@contents.html')
    assert response.status_int == 200
    assert 'href="demo/@@SelectedManagementView.html"' in response.text
    assert '/@@/xmltree.js' in response.text  # Rotterdam's navigation tree


def test_manager_reaches_the_demo_service(manager):
    response = manager.get(SERVICE + '/@@SelectedManagementView.html')
    assert response.maybe_follow().status_int == 200


def test_demo_site_service_and_cron_job_exist_after_start(started):
    _, databases, _ = started
    [db] = databases
    with own_connection(db) as (connection, _):
        demo = connection.root()['Application']['demo']
        assert ISite.providedBy(demo)
        manager = demo.getSiteManager()
        service = manager.getUtility(ITaskService, 'jobs')
        assert service is manager['default']['jobs']
        crons = [job for job in service.jobs.values()
                 if job.status == CRONJOB]
        assert [(job.task, job.cron) for job in crons] == [
            ('log', '* * * * *')]
        assert sorted(service.getAvailableTasks()) == [
            'echo', 'fail', 'log', 'sleep']


def test_databases_are_those_of_zope_conf(started, tmp_path):
    _, databases, _ = started
    [db] = databases
    assert db.storage.getName() == str(tmp_path / 'Data.fs')


# -- the real server ----------------------------------------------------------

def _free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def _wait_for_port(port, process, deadline=DEADLINE):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        assert process.poll() is None, 'the server ended early'
        try:
            socket.create_connection(('127.0.0.1', port), 0.05).close()
            return
        except OSError:
            time.sleep(0.05)
    pytest.fail('the server did not listen within %ss' % deadline)


def _status(url, auth=None):
    request = urllib.request.Request(url)
    if auth is not None:
        request.add_header('Authorization', 'Basic ' + base64.b64encode(
            ('%s:%s' % auth).encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=DEADLINE) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _start_server(folder, port, output):
    return subprocess.Popen(
        [sys.executable, '-m', 'zodbtasks.app.server',
         '--config', os.path.join(folder, 'var', 'zope.conf'),
         '--sample', SAMPLE, '--port', str(port)],
        cwd=folder, stdout=output, stderr=subprocess.STDOUT,
        env={name: value for name, value in os.environ.items()
             if name != instance.PASSWORD_VARIABLE})


@pytest.mark.slow
def test_server_serves_and_stops_cleanly_on_sigterm(tmp_path):
    port = _free_port()
    log = tmp_path / 'server.out'
    with open(log, 'w') as output:
        process = _start_server(str(tmp_path), port, output)
    try:
        _wait_for_port(port, process)
        text = log.read_text()
        [password] = re.findall(r'with password: (\S+) ', text)
        base = 'http://127.0.0.1:%d' % port
        assert _status(base + '/@@contents.html') == 401
        assert _status(base + '/@@contents.html', ('admin', password)) == 200
    finally:
        status = testing.stop_process(process, DEADLINE)
    assert status == 0
    # FileStorage writes its index when the database is closed.
    assert (tmp_path / 'var' / 'Data.fs.index').exists()
    text = log.read_text()
    assert 'Serving on http://127.0.0.1:%d' % port in text
    assert 'service jobs on site demo started' in text
    assert text.rstrip().endswith('zodbtasks server stopped')
    assert text.count(password) == 1
    for name in os.listdir(tmp_path / 'var' / 'log'):
        assert password not in (tmp_path / 'var' / 'log' / name).read_text()


@pytest.mark.slow
def test_server_reports_a_port_in_use(tmp_path):
    with socket.socket() as taken:
        taken.bind(('127.0.0.1', 0))
        taken.listen()
        port = taken.getsockname()[1]
        log = tmp_path / 'server.out'
        with open(log, 'w') as output:
            process = _start_server(str(tmp_path), port, output)
        try:
            process.wait(DEADLINE)
        finally:
            status = testing.stop_process(process, DEADLINE)
    assert status == 1
    text = log.read_text()
    assert 'cannot serve on 127.0.0.1:%d' % port in text
    assert text.rstrip().endswith('zodbtasks server stopped')
