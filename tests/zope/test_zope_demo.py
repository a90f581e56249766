"""``make run-zope``'s instance (``python -m zodbtasks.zope.instance``):
made once with a printed random password, served by runwsgi on
127.0.0.1 only, its demo jobs run by the autostarted service."""
import base64
import os
import re
import secrets
import subprocess
import sys
import urllib.request

import pytest

from zeo.conftest import free_port
from zeo.conftest import wait_for
from zodbtasks import testing

pytestmark = pytest.mark.slow


def get(url, password):
    request = urllib.request.Request(url, headers={
        'Authorization': 'Basic ' + base64.b64encode(
            ('admin:%s' % password).encode()).decode()})
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.read().decode()


def test_the_demo_instance_serves_and_runs_its_jobs(tmp_path):
    port, password = free_port(), secrets.token_urlsafe(12)
    folder = tmp_path / 'zope'
    env = dict(os.environ, ZODBTASKS_ADMIN_PASSWORD=password)
    log = open(str(tmp_path / 'demo.log'), 'w+')
    proc = subprocess.Popen(
        [sys.executable, '-m', 'zodbtasks.zope.instance', '--dir',
         str(folder), '--port', str(port)], env=env, stdout=log,
        stderr=subprocess.STDOUT, cwd=str(tmp_path))
    overview = 'http://127.0.0.1:%d/demo/tasks/@@overview.html' % port

    def completed():
        assert proc.poll() is None, open(log.name).read()[-3000:]
        try:
            page = get(overview, password)
        except OSError:
            return None
        found = re.search(r'id="zt-count-completed">.*?<td>(\d+)</td>',
                          page, re.S)
        return found and int(found.group(1)) >= 2 and page
    try:
        page = wait_for(completed, 180, 'the demo jobs to complete')
        assert 'class="zmi ' in page
        text = open(log.name).read()
        assert 'admin with the password %s (shown once)' % password in text
        assert 'Serving on http://127.0.0.1:%d' % port in text
        ini = (folder / 'etc' / 'zope.ini').read_text()
        assert 'listen = 127.0.0.1:%d' % port in ini
        assert not re.search(r'^(host|port)\s*=', ini, re.M)
    finally:
        testing.stop_process(proc, 30)
        log.close()
