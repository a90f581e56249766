"""The configurations and command lines that docs/deployment.rst (and
the other documents) show work as shown, on a real ZEO server."""
import io
import os
import re
import subprocess
import sys

import pytest
import ZEO

import doc_commands
from zodbtasks import clock
from zodbtasks.app import ops
from zodbtasks.app import worker
from zodbtasks.testing import stop_process
from zodbtasks.transactions import own_connection
from zodbtasks.dispatch import Dispatch

from .conftest import DEADLINE
from .conftest import RUNZEO
from .conftest import free_port
from .conftest import make_zeo_instance
from .conftest import subprocess_environ
from .conftest import wait_for

DOC = os.path.join('docs', 'deployment.rst')
DOCUMENTED_CONFIG = 'var/zope.conf'


def block_with(marker):
    return doc_commands.block_with(DOC, marker)


@pytest.mark.slow
def test_the_zeo_conf_runs_a_zeo_server(tmp_path):
    port = free_port()
    (tmp_path / 'log').mkdir()
    conf = block_with('<zeo>').replace(
        '10.0.0.10:8100', '127.0.0.1:%d' % port).replace(
        '/srv/zodbtasks/var', str(tmp_path))
    (tmp_path / 'zeo.conf').write_text(conf)
    process = subprocess.Popen(RUNZEO + ['-C', str(tmp_path / 'zeo.conf')],
                               cwd=str(tmp_path))
    try:
        db = wait_for(lambda: _connect(port, process), DEADLINE,
                      'the ZEO server did not serve')
        try:
            with own_connection(db) as (connection, tm):
                with tm:
                    connection.root()['x'] = 1
        finally:
            db.close()
    finally:
        assert stop_process(process) == 0
    assert (tmp_path / 'Data.fs').exists()
    assert 'listening on' in (tmp_path / 'log' / 'zeo.log').read_text()


def _connect(port, process):
    assert process.poll() is None, 'runzeo ended'
    try:
        return ZEO.DB(('127.0.0.1', port), wait_timeout=1)
    except Exception:
        return None


def test_the_clients_zope_conf_sections(tmp_path):
    config = make_zeo_instance(str(tmp_path), ('127.0.0.1', 8100))
    block = block_with('processors off')  # <zeoclient> is in two blocks
    with open(config) as f:
        text = f.read()
    text = re.sub(r'^<zodb>\n.*?^</zodb>\n', '', text, count=1,
                  flags=re.MULTILINE | re.DOTALL)
    text = re.sub(r'^<product-config zodbtasks>\n.*?^</product-config>\n',
                  block, text, count=1, flags=re.MULTILINE | re.DOTALL)
    with open(config, 'w') as f:
        f.write(text)
    options = worker.read_config(config)
    assert worker.product_config(options) == {
        'autostart': 'demo@*', 'processors': 'off', 'threads': '2'}
    [database] = options.databases
    storage = database.config.storage.config
    assert [str(server.address) for server in storage.server] == [
        "('10.0.0.10', 8100)"]
    assert (storage.storage, storage.cache_size) == ('1', 100 * 1024 ** 2)
    assert worker.worker_settings(worker.product_config(options)) == (
        ['demo@*'], 2)


#: Documents of Zope 6 instances: their command lines take a Zope
#: zope.conf and run in tests/zope (test_zope_worker.py).
ZOPE_DOCUMENTS = (os.path.join('docs', 'zope.rst'),
                  os.path.join('docs', 'plone.rst'))


def _lines(name):
    return [(document, line) for document, line in
            doc_commands.all_command_lines()
            if doc_commands.argv(line)[0] == name
            and document not in ZOPE_DOCUMENTS]


def _failed_jobs(zeo_service, number):
    """``number`` jobs in error, committed; their ids as strings."""
    service, now = zeo_service.service, clock.now()
    ids = zeo_service.add_jobs([('hold', 0.0, {})] * number)
    with zeo_service.tm:
        claimed = Dispatch(service).claimJobs(now, number, 'doc:1:test/0')
        for jobid in claimed:
            Dispatch(service).finishJob(jobid, now, error='documented failure')
        Dispatch(service).foldJobs('doc:1:test/0')
    assert sorted(claimed) == sorted(ids)
    return [str(jobid) for jobid in ids]


def _finished_group(zeo_service):
    """A group of two jobs that completed, committed; its id as a
    string."""
    service, now = zeo_service.service, clock.now()
    with zeo_service.tm:
        gid = service.addGroup([('hold', 0.0)] * 2, now=now)
    with zeo_service.tm:
        claimed = Dispatch(service).claimJobs(now, 2, 'doc:1:test/0')
        for jobid in claimed:
            Dispatch(service).finishJob(jobid, now, output='done')
        Dispatch(service).foldJobs('doc:1:test/0')
    assert service.getGroup(gid).status == 'completed'
    return str(gid)


@pytest.mark.parametrize('document, line', _lines('zodbtasks'),
                         ids=['%s: %s' % item for item in _lines('zodbtasks')])
def test_the_documented_operator_commands_run(document, line, zeo_instance,
                                              zeo_service):
    group = '1'
    if 'requeue' in doc_commands.argv(line)[1]:
        jobids = _failed_jobs(zeo_service, 2)
    elif 'clean-group' in doc_commands.argv(line)[1]:
        group = _finished_group(zeo_service)
        jobids = []
    else:
        jobids = [str(jobid) for jobid in zeo_service.add_jobs(
            [('hold', 0.0, {})] * 2)]
    _, arguments = doc_commands.argv(line, jobids, group=group)
    arguments = [zeo_instance if argument == DOCUMENTED_CONFIG else argument
                 for argument in arguments]
    if '--config' not in arguments:
        arguments += ['--config', zeo_instance]
    if ('watch' in arguments or 'activities' in arguments) \
            and '--count' not in arguments and '--once' not in arguments:
        arguments += ['--count', '1']
    out = io.StringIO()
    assert ops.main(arguments, out=out) == 0, out.getvalue()
    assert out.getvalue()


WORKER_LINES = sorted({tuple(doc_commands.argv(line)[1])
                       for _, line in _lines('zodbtasks-worker')})


@pytest.mark.slow
@pytest.mark.parametrize('arguments', WORKER_LINES,
                         ids=[' '.join(item) for item in WORKER_LINES])
def test_the_documented_worker_commands_run(arguments, tmp_path, zeo_server):
    # The zope.conf of the documents: autostart demo@*, processors off.
    folder = tmp_path / 'instance'
    folder.mkdir()
    config = make_zeo_instance(str(folder), zeo_server.address,
                               autostart='demo@*', threads=2)
    arguments = [config if argument == DOCUMENTED_CONFIG else argument
                 for argument in arguments]
    if '--config' not in arguments:
        arguments += ['--config', config]
    log = folder / 'worker.out'
    with open(log, 'w') as output:
        process = subprocess.Popen(
            [sys.executable, '-m', 'zodbtasks.app.worker'] + arguments,
            cwd=str(folder), stdout=output, stderr=subprocess.STDOUT,
            env=subprocess_environ())
    try:
        wait_for(lambda: process.poll() is not None
                 or ' started: ' in log.read_text(), DEADLINE,
                 'the worker did not start')
    finally:
        status = stop_process(process, DEADLINE)
    text = log.read_text()
    assert status == 0, text
    assert 'started: 1 task services' in text
    assert text.rstrip().endswith('zodbtasks worker stopped')
