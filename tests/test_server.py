"""The application server: the WSGI application of a fresh instance (with
WebTest, in this process) and the real ``zodbtasks-server`` process."""
import base64
import os
import re
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
import webtest
from zope.component.interfaces import ISite
from zope.error.interfaces import IErrorReportingUtility

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
            'echo', 'fail', 'log', 'sleep', 'zodbtasks.bulk']


def test_databases_are_those_of_zope_conf(started, tmp_path):
    _, databases, _ = started
    [db] = databases
    assert db.storage.getName() == str(tmp_path / 'Data.fs')


def test_a_same_origin_post_to_the_zmi_contents_works(started, manager):
    _, databases, _ = started
    manager.post('/@@contents.html', {
        'ids:list': 'demo', 'container_delete_button': 'Delete'},
        headers={'Origin': 'http://localhost'}, status=302)
    with databases[0].transaction() as connection:
        assert 'demo' not in connection.root()['Application']


def test_a_cross_origin_post_to_the_zmi_contents_changes_nothing(started,
                                                                 manager):
    _, databases, _ = started
    manager.post('/@@contents.html', {
        'ids:list': 'demo', 'container_delete_button': 'Delete'},
        headers={'Origin': 'http://evil.example'}, status=403)
    with databases[0].transaction() as connection:
        assert 'demo' in connection.root()['Application']


def test_an_instance_with_an_ssha_password_still_logs_in(
        tmp_path, root_logger):
    """Instances made before bcrypt keep their principals.zcml."""
    config, _ = quiet_instance(str(tmp_path))
    instance.write_principals(str(tmp_path), 'old secret', 'SSHA')
    assert 'password_manager="SSHA"' in (
        tmp_path / 'principals.zcml').read_text()
    app, databases = server.make_app(config)
    try:
        browser = webtest.TestApp(app)
        browser.authorization = ('Basic', ('admin', 'old secret'))
        assert browser.get('/@@contents.html').status_int == 200
        browser.authorization = ('Basic', ('admin', 'not it'))
        browser.get('/@@contents.html', status=401)
    finally:
        server.close_databases(databases)


def test_the_bcrypt_password_logs_in(started, manager, tmp_path):
    assert 'password_manager="BCRYPT"' in (
        tmp_path / 'principals.zcml').read_text()
    assert manager.get('/@@contents.html').status_int == 200


def _set_product_config(config, line):
    """Set a key of <product-config zodbtasks> in ``config``."""
    with open(config) as f:
        text = f.read()
    key = line.split()[0]
    text = re.sub(r'(?m)^\s*%s .*\n' % key, '', text)
    with open(config, 'w') as f:
        f.write(text.replace('</product-config>',
                             '  %s\n</product-config>' % line))


def test_max_request_body_is_read_from_zope_conf(tmp_path, root_logger):
    config, password = quiet_instance(str(tmp_path))
    _set_product_config(config, 'max-request-body 1KB')
    app, databases = server.make_app(config)
    try:
        assert app.max_body == 1024
        browser = webtest.TestApp(app)
        browser.authorization = ('Basic', ('admin', password))
        response = browser.post(SERVICE + '/@@addJob.html',
                                {'input': 'x' * 1024}, status=413)
        assert 'accepts at most 1024 (max-request-body' in response.text
    finally:
        server.close_databases(databases)


@pytest.fixture
def umask_kept():
    """Undo the umask that server.main sets."""
    old = os.umask(0o022)
    os.umask(old)
    yield
    os.umask(old)


def test_a_wrong_max_request_body_stops_the_start(tmp_path, capsys,
                                                  root_logger, umask_kept):
    config, _ = quiet_instance(str(tmp_path))
    _set_product_config(config, 'max-request-body lots')
    assert server.main(['--config', config, '--sample', SAMPLE]) == 2
    assert capsys.readouterr().err == (
        "zodbtasks-server: max-request-body 'lots' in <product-config "
        "zodbtasks>: expected a number of bytes, such as 4194304 or 4MB\n")


def test_the_public_url_is_read_from_zope_conf(tmp_path, root_logger):
    config, password = quiet_instance(str(tmp_path))
    _set_product_config(config, 'public-url https://tasks.example.com')
    app, databases = server.make_app(config)
    try:
        assert app.public_origin == 'https://tasks.example.com:443'
    finally:
        server.close_databases(databases)


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


def _assert_owner_only(folder):
    """``folder`` and the folders in it are 0o700, the files 0o600."""
    seen = []
    for path, folders, files in os.walk(folder):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o700, path
        for name in files:
            mode = stat.S_IMODE(os.stat(os.path.join(path, name)).st_mode)
            assert mode == 0o600, (path, name, oct(mode))
            seen.append(name)
    assert {'Data.fs', 'Data.fs.index', 'Data.fs.lock', 'Data.fs.tmp',
            'event.log', 'principals.zcml', 'zope.conf'} <= set(seen), seen


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
    _assert_owner_only(tmp_path / 'var')
    text = log.read_text()
    assert '------' not in text
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


# -- the real server, hardened ------------------------------------------------

@pytest.fixture(scope='module')
def running(tmp_path_factory):
    """One real server for the tests below: its base URL, the manager's
    password, its folder and its output file."""
    folder = tmp_path_factory.mktemp('hardened')
    port = _free_port()
    log = folder / 'server.out'
    with open(log, 'w') as output:
        process = _start_server(str(folder), port, output)
    try:
        _wait_for_port(port, process)
        [password] = re.findall(r'with password: (\S+) ', log.read_text())
        yield 'http://127.0.0.1:%d' % port, password, folder, log
    finally:
        testing.stop_process(process, DEADLINE)


def _request(url, method='GET', data=None, headers=(), auth=None):
    """(status, headers, body text) of a request to the real server."""
    request = urllib.request.Request(url, data=data, method=method,
                                     headers=dict(headers))
    if auth is not None:
        request.add_header('Authorization', 'Basic ' + base64.b64encode(
            ('%s:%s' % auth).encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=DEADLINE) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.headers, exc.read().decode()


def _assert_headers(headers):
    assert headers['X-Frame-Options'] == 'SAMEORIGIN'
    assert headers['X-Content-Type-Options'] == 'nosniff'
    assert "frame-ancestors 'self'" in headers['Content-Security-Policy']
    assert "script-src 'self';" in headers['Content-Security-Policy']


@pytest.mark.slow
def test_real_server_pages_have_the_security_headers(running):
    base, password, _, _ = running
    for path, auth, expected in [
            ('/@@contents.html', ('admin', password), 200),
            (SERVICE + '/@@jobs.html', ('admin', password), 200),
            ('/@@contents.html', None, 401),
            ('/nosuch', ('admin', password), 404)]:
        status, headers, _ = _request(base + path, auth=auth)
        assert status == expected, path
        _assert_headers(headers)


@pytest.mark.slow
def test_real_server_refuses_a_cross_origin_post_to_contents(running):
    base, password, _, _ = running
    admin = ('admin', password)
    status, headers, body = _request(
        base + '/@@contents.html', 'POST',
        b'ids%3Alist=demo&container_delete_button=Delete',
        {'Origin': 'http://evil.example',
         'Content-Type': 'application/x-www-form-urlencoded'}, admin)
    assert status == 403
    assert 'came from another site (http://evil.example)' in body
    _assert_headers(headers)
    assert _request(base + '/demo/@@contents.html', auth=admin)[0] == 200


@pytest.mark.slow
def test_real_server_stores_a_bcrypt_hash_that_logs_in(running):
    base, password, folder, _ = running
    text = (folder / 'var' / 'principals.zcml').read_text()
    assert re.search(r'password_manager="BCRYPT"\s+password="\{BCRYPT\}'
                     r'\$2b\$', text)
    assert password not in text
    assert _request(base + '/@@contents.html', auth=('admin', password))[0] \
        == 200


@pytest.mark.slow
def test_real_server_answers_413_for_a_big_body(running):
    base, password, _, _ = running
    status, headers, body = _request(
        base + SERVICE + '/@@addJob.html', 'POST',
        b'input=' + b'x' * (4 * 1024 * 1024),
        {'Content-Type': 'application/x-www-form-urlencoded'},
        ('admin', password))
    assert status == 413
    assert 'this server accepts at most 4194304 (max-request-body' in body


@pytest.mark.slow
def test_real_server_does_not_read_a_huge_body(running):
    """waitress refuses a body of more than twice the bound before
    reading it."""
    host, port = running[0][len('http://'):].split(':')
    with socket.create_connection((host, int(port)), DEADLINE) as sock:
        sock.sendall(b'POST /@@contents.html HTTP/1.1\r\nHost: x\r\n'
                     b'Content-Length: 100000000\r\n\r\n')
        answer = sock.recv(4096)
    assert answer.startswith(b'HTTP/1.1 413 ')


@pytest.mark.slow
def test_real_server_logs_client_errors_quietly(running):
    base, password, _, log = running
    admin = ('admin', password)
    assert _request(base + '/nosuch', auth=admin)[0] == 404
    assert _request(base + '/demo', 'PUT', b'x')[0] == 401
    assert _request(base + '/demo', 'DELETE')[0] == 401
    status, headers, _ = _request(base + SERVICE, 'DELETE', auth=admin)
    assert (status, headers['Allow']) == (405, 'OPTIONS')
    # A request the server answers after them: their log lines are out.
    assert _request(base + '/@@contents.html', auth=admin)[0] == 200
    text = log.read_text()
    assert ' ERROR ' not in text and 'Traceback' not in text
    assert '------' not in text


def test_the_error_log_ignores_404s_once_then_as_the_operator_says(
        tmp_path, root_logger):
    config, _ = quiet_instance(str(tmp_path))
    app, databases = server.make_app(config)
    try:
        with databases[0].transaction() as connection:
            utility = connection.root()['Application'].getSiteManager() \
                .getUtility(IErrorReportingUtility)
            assert utility.getProperties()['ignored_exceptions'] == (
                'Unauthorized', 'NotFound', 'MethodNotAllowed')
            utility.setProperties(20, True, ['Unauthorized'])  # the operator
    finally:
        server.close_databases(databases)
    app, databases = server.make_app(config)
    try:
        with databases[0].transaction() as connection:
            utility = connection.root()['Application'].getSiteManager() \
                .getUtility(IErrorReportingUtility)
            assert utility.getProperties()['ignored_exceptions'] == (
                'Unauthorized',)
    finally:
        server.close_databases(databases)
