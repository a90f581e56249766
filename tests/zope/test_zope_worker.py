"""zodbtasks-worker serving a Zope 6 instance (made by mkwsgiinstance)
whose database is on a real ZEO server: jobs added by a user in one
process run in the worker process, as that user, in their site."""
import os
import signal
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip('five.localsitemanager')
pytest.importorskip('ZEO')

import transaction  # noqa: E402
import ZEO  # noqa: E402

from zeo.conftest import DEADLINE  # noqa: E402
from zeo.conftest import ZEOServer  # noqa: E402
from zeo.conftest import subprocess_environ  # noqa: E402
from zeo.conftest import wait_for  # noqa: E402
from zodbtasks import testing  # noqa: E402

pytestmark = pytest.mark.slow
BIN = os.path.dirname(sys.executable)
HERE = os.path.dirname(os.path.abspath(__file__))

TASKS = '''\
"""The tasks of the test instance."""
import zope.component.hooks
from AccessControl import getSecurityManager


def whoami(service, jobid, input):
    site = zope.component.hooks.getSite()
    return {'user': getSecurityManager().getUser().getId(),
            'site': site.getId(), 'service_url': service.absolute_url(),
            'may_manage': bool(getSecurityManager().checkPermission(
                'zodbtasks: Manage jobs', service)),
            'input': input}
'''

ZCML = '''\
<configure xmlns="http://namespaces.zope.org/zope">
  <include package="five.localsitemanager" />
  <include package="zodbtasks.zope" />
  <utility component="worker_tasks.whoami" name="whoami"
           provides="zodbtasks.interfaces.ITask" />
</configure>
'''

SETUP = '''\
import sys
import transaction
import zope.component.hooks
from AccessControl.SecurityManagement import newSecurityManager
from five.localsitemanager import make_objectmanager_site
from OFS.userfolder import UserFolder
from zodbtasks.zope.service import ZopeTaskService

app.manage_addFolder('site1')
site = app.site1
make_objectmanager_site(site)
site._setObject('acl_users', UserFolder())
site.acl_users.userFolderAddUser('alice', 'secret', ['Manager'], [])
site._setObject('tasks', ZopeTaskService('tasks'))
transaction.commit()
newSecurityManager(None, site.acl_users.getUserById('alice'))
zope.component.hooks.setSite(site)
ids = [site.tasks.add('whoami', n) for n in range(int(sys.argv[-1]))]
transaction.commit()
print(' '.join(map(str, ids)))
'''


def make_zope_instance(folder, zeo_address):
    """A Zope instance by mkwsgiinstance, its database on ``zeo_address``,
    with the test's tasks and ``processors off`` (web processes serve,
    the worker runs the jobs)."""
    instance = os.path.join(folder, 'instance')
    subprocess.run([os.path.join(BIN, 'mkwsgiinstance'), '-d', instance,
                    '-u', 'admin:%s' % os.urandom(8).hex()], check=True,
                   stdout=subprocess.DEVNULL)
    conf = os.path.join(instance, 'etc', 'zope.conf')
    with open(conf) as f:
        text = f.read()
    start, end = text.index('<zodb_db main>'), text.index('</zodb_db>')
    text = text[:start] + textwrap.dedent('''\
        <zodb_db main>
          <zeoclient>
            server %s:%d
          </zeoclient>
          mount-point /
        </zodb_db>''' % zeo_address) + text[end + len('</zodb_db>'):]
    lib = os.path.join(instance, 'lib')
    os.makedirs(lib, exist_ok=True)
    text += textwrap.dedent('''
        <product-config zodbtasks>
          autostart site1@tasks
          processors off
        </product-config>
        ''')
    with open(conf, 'w') as f:
        f.write(text)
    with open(os.path.join(lib, 'worker_tasks.py'), 'w') as f:
        f.write(TASKS)
    includes = os.path.join(instance, 'etc', 'package-includes')
    os.makedirs(includes, exist_ok=True)
    with open(os.path.join(includes, 'test-configure.zcml'), 'w') as f:
        f.write(ZCML)
    return instance, conf


def environ(instance):
    """Our subprocesses' environment, with the instance's tasks."""
    env = subprocess_environ()
    env['PYTHONPATH'] = os.pathsep.join([os.path.join(instance, 'lib'),
                                         env['PYTHONPATH']])
    return env


@pytest.fixture
def zeo_server(tmp_path):
    server = ZEOServer(str(tmp_path))
    server.start()
    yield server
    server.stop()


def test_the_worker_runs_a_zope_instances_jobs_as_their_user(
        tmp_path, zeo_server):
    instance, conf = make_zope_instance(str(tmp_path), zeo_server.address)
    script = os.path.join(str(tmp_path), 'setup.py')
    with open(script, 'w') as f:
        f.write(SETUP)
    added = subprocess.run(
        [os.path.join(BIN, 'zconsole'), 'run', conf, script, '3'],
        capture_output=True, text=True, cwd=instance,
        env=environ(instance), timeout=120)
    assert added.returncode == 0, added.stderr[-3000:]
    ids = [int(i) for i in added.stdout.split()]
    assert len(ids) == 3
    log = open(os.path.join(str(tmp_path), 'worker.log'), 'w')
    worker = subprocess.Popen(
        [sys.executable, '-m', 'zodbtasks.app.worker', '--config', conf,
         '--threads', '2'], cwd=instance, env=environ(instance),
        stdout=log, stderr=subprocess.STDOUT)
    db = ZEO.DB(zeo_server.address)
    try:
        connection = db.open()

        def done():
            transaction.begin()
            service = connection.root()['Application'].site1.tasks
            return all(service.getStatus(i) == 'completed' for i in ids) \
                and service

        service = wait_for(done, DEADLINE * 2,
                           lambda: 'the worker did not run the jobs; its '
                           'log: ' + open(log.name).read()[-3000:])
        results = [service.getResult(i) for i in ids]
        assert [r['input'] for r in results] == [0, 1, 2]
        assert {r['user'] for r in results} == {'alice'}
        assert {r['site'] for r in results} == {'site1'}
        assert {r['may_manage'] for r in results} == {True}
        # zconsole's request (Testing.makerequest) is for http://nohost
        assert {r['service_url'] for r in results} \
            == {'http://nohost/site1/tasks'}
        assert worker.poll() is None
        # The operator command reads the same Zope instance's zope.conf.
        shown = subprocess.run(
            [sys.executable, '-m', 'zodbtasks.app.ops', 'workers',
             '--config', conf, '--service', 'site1@tasks'],
            capture_output=True, text=True, env=environ(instance),
            timeout=120)
        assert shown.returncode == 0, shown.stderr
        assert 'site1@tasks' in shown.stdout and 'alive' in shown.stdout
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(DEADLINE) == 0
        assert 'zodbtasks worker stopped' in open(log.name).read()
    finally:
        if worker.poll() is None:
            testing.stop_process(worker, DEADLINE)
        log.close()
        db.close()


def test_a_zope_conf_that_cannot_be_read_says_so(tmp_path):
    conf = tmp_path / 'zope.conf'
    conf.write_text('<zodb_db main>\n  <nonsense>\n</zodb_db>\n')
    result = subprocess.run(
        [sys.executable, '-m', 'zodbtasks.app.worker', '--config',
         str(conf)], capture_output=True, text=True, timeout=120,
        env=subprocess_environ())
    assert result.returncode == 2
    assert result.stderr.startswith('zodbtasks-worker: cannot read %s'
                                    % conf)

