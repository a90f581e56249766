"""The Zope 6 test environment: a real application, its ZMI through the WSGI
publisher, and a WSGI instance served by runwsgi."""
import base64
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
import transaction
from OFS.Application import Application
from OFS.Folder import manage_addFolder


def _text(browser):
    contents = browser.contents
    return contents.decode() if isinstance(contents, bytes) else contents


def test_the_application_is_zope_with_a_manager(app):
    assert isinstance(app, Application)
    assert 'acl_users' in app.objectIds()
    assert app.acl_users.getUser('zope-manager') is not None


def test_a_manager_sees_a_new_folder_in_the_zmi(app, manager_browser):
    manage_addFolder(app, 'tasks-folder', title='Folder for tasks')
    transaction.commit()
    manager_browser.open('http://nohost/manage_main')
    assert manager_browser.headers['status'].startswith('200')
    assert 'tasks-folder' in manager_browser.contents
    manager_browser.open('http://nohost/tasks-folder/manage_main')
    assert 'Folder for tasks' in manager_browser.contents


def test_what_a_test_commits_is_gone_in_the_next_test(app):
    assert 'tasks-folder' not in app.objectIds()


def test_anonymous_gets_no_zmi(app, anonymous_browser):
    manage_addFolder(app, 'tasks-folder')
    transaction.commit()
    anonymous_browser.open('http://nohost/manage_main')
    assert anonymous_browser.headers['status'].startswith('401')
    assert 'tasks-folder' not in _text(anonymous_browser)


def test_wrong_password_gets_no_zmi(app, anonymous_browser):
    anonymous_browser.addHeader(
        'Authorization', 'Basic zope-manager:wrong-password')
    anonymous_browser.open('http://nohost/manage_main')
    assert anonymous_browser.headers['status'].startswith('401')


def _free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def _bin(name):
    path = os.path.join(os.path.dirname(sys.executable), name)
    if not os.path.exists(path):
        pytest.skip('%s is not installed beside %s' % (name, sys.executable))
    return path


def _get(url, credentials=None):
    request = urllib.request.Request(url)
    if credentials:
        token = base64.b64encode(('%s:%s' % credentials).encode()).decode()
        request.add_header('Authorization', 'Basic ' + token)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def _wait_for_port(port, process, deadline):
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with socket.create_connection(('127.0.0.1', port), timeout=0.5):
                return True
        except OSError:
            # Not listening yet: block on the process for a moment (a
            # bounded wait that ends early if it exits) and try again.
            try:
                process.wait(timeout=0.2)
            except subprocess.TimeoutExpired:
                pass
    return False


def _stop(process):
    if process.poll() is None:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=20)


@pytest.mark.slow
def test_runwsgi_serves_an_instance_made_by_mkwsgiinstance(tmp_path):
    instance = tmp_path / 'instance'
    user = ('admin', 'admin-password-1')
    subprocess.run(
        [_bin('mkwsgiinstance'), '-d', str(instance), '-u', '%s:%s' % user],
        check=True, capture_output=True, timeout=120)
    port = _free_port()
    config = instance / 'etc' / 'zope.ini'
    text = config.read_text()
    assert 'host = 127.0.0.1\nport = 8080\n' in text, text
    config.write_text(text.replace(
        'port = 8080\n', 'port = %d\n' % port))
    log = open(tmp_path / 'runwsgi.log', 'w')
    process = subprocess.Popen(
        [_bin('runwsgi'), str(config)], stdout=log, stderr=subprocess.STDOUT,
        cwd=str(instance))
    try:
        started = _wait_for_port(port, process, time.monotonic() + 120)
        assert started, (tmp_path / 'runwsgi.log').read_text()
        # The root's page is Plone's "create a site" overview here:
        # runwsgi's Zope imports every installed Products.* package.
        status, _ = _get('http://127.0.0.1:%d/' % port)
        assert status == http.client.OK
        status, _ = _get('http://127.0.0.1:%d/manage_main' % port)
        assert status == http.client.UNAUTHORIZED
        status, body = _get('http://127.0.0.1:%d/manage_main' % port, user)
        assert status == http.client.OK
        assert 'acl_users' in body
    finally:
        _stop(process)
        log.close()
    assert process.returncode is not None
