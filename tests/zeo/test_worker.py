"""``zodbtasks-worker`` processes on a real ZEO server."""
import os
import subprocess
import sys

import pytest
import zope.app.appsetup.product
from persistent.mapping import PersistentMapping
from ZODB.POSException import ConflictError

from zodbtasks import startup
from zodbtasks.app import instance
from zodbtasks.app import worker as worker_cli
from zodbtasks.interfaces import COMPLETED
from zodbtasks.interfaces import PROCESSING
from zodbtasks.interfaces import QUEUED

from .conftest import DEADLINE
from .conftest import SAMPLE
from .conftest import Workers
from .conftest import free_port
from .conftest import make_zeo_instance
from .conftest import subprocess_environ
from .conftest import wait_for


@pytest.mark.slow
def test_worker_runs_jobs_committed_by_another_process(workers,
                                                        zeo_service):
    worker = workers.start(threads=2)
    ids = zeo_service.add_counted(20)
    jobs = zeo_service.wait_finished(ids, DEADLINE)
    assert {job.status for job in jobs} == {COMPLETED}
    assert [job.input['value'] for job in jobs] == [1] * 20
    assert {job.output for job in jobs} == {worker.pid}
    assert workers.stop(worker) == 0
    text = worker.output()
    assert 'zodbtasks worker ' in text
    assert text.rstrip().endswith('zodbtasks worker stopped')


@pytest.mark.slow
def test_sigterm_finishes_the_running_job_and_releases_the_claimed_ones(
        workers, zeo_service):
    worker = workers.start()
    # Committed together, so claimed together (a claim takes several
    # jobs); the first runs 2 s, so the second is claimed and not started
    # when SIGTERM comes.
    long_job, waiting = zeo_service.add_jobs([
        ('hold', 2.0, {}), ('count', PersistentMapping(value=0), {})])

    def running():
        service = zeo_service.fresh()
        return service.jobs[long_job].status == PROCESSING \
            and worker.owns(service.jobs[long_job])
    wait_for(running, DEADLINE, 'the long job did not start')
    assert workers.stop(worker) == 0
    service = zeo_service.fresh()
    job = service.jobs[long_job]
    assert (job.status, job.output) == (COMPLETED, 'held 2.0')
    released = service.jobs[waiting]
    assert (released.status, released.attempts) == (QUEUED, 0)
    assert released.input['value'] == 0
    assert worker.output().rstrip().endswith('zodbtasks worker stopped')
    # The next worker runs it.
    workers.start()
    [job] = zeo_service.wait_finished([waiting], DEADLINE)
    assert (job.status, job.attempts, job.input['value']) == (
        COMPLETED, 1, 1)


@pytest.mark.slow
def test_worker_takes_services_and_threads_from_the_product_config(
        tmp_path, zeo_server, zeo_service):
    # The same zope.conf as a web process that serves only: the worker
    # processes what autostart names, with the configured threads, once.
    folder = tmp_path / 'shared'
    folder.mkdir()
    config = make_zeo_instance(str(folder), zeo_server.address,
                               autostart='zeo@jobs', processors='off',
                               threads=2)
    started = Workers(config, str(tmp_path / 'runs.txt'))
    try:
        worker = started.start(autostart=None, threads=None)
        ids = zeo_service.add_counted(10)
        assert {job.status for job in zeo_service.wait_finished(
            ids, DEADLINE)} == {COMPLETED}
        assert started.stop(worker) == 0
    finally:
        started.close()
    text = worker.output()
    assert 'started: 1 task services, 2 threads each' in text
    assert text.count('processor zodbtasks.zeo.++etc++site.default.jobs'
                      ' started') == 1
    assert text.count('processor zodbtasks.zeo.++etc++site.default.jobs.1'
                      ' started') == 1
    assert 'processors off' not in text


@pytest.mark.slow
def test_worker_without_a_matching_service_exits_with_1(workers,
                                                        zeo_service):
    worker = workers.start(autostart='nosuch@*', wait=False)
    assert worker.process.wait(DEADLINE) == 1
    text = worker.output()
    assert 'no task service matches nosuch@*; nothing to do' in text
    assert text.rstrip().endswith('zodbtasks worker stopped')


@pytest.mark.slow
def test_an_unreachable_zeo_server_is_one_line_not_a_traceback(tmp_path):
    # Nothing listens on the port; the client waits 1 s for it.
    port = free_port()
    config = make_zeo_instance(str(tmp_path), ('127.0.0.1', port),
                               autostart='zeo@jobs', wait_timeout=1)
    done = subprocess.run(
        [sys.executable, '-m', 'zodbtasks.app.worker', '--config', config],
        cwd=str(tmp_path), capture_output=True, text=True, timeout=DEADLINE,
        env=subprocess_environ())
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        'zodbtasks-worker: cannot reach the ZEO server 127.0.0.1:%d named '
        'in %s (timed out waiting for connection): is it running, and is '
        'the address right?' % (port, config)]
    assert 'Traceback' not in done.stdout


def test_zeo_servers_of_a_zope_conf(tmp_path, zeo_instance):
    options = worker_cli.read_config(zeo_instance)
    host, port = options.databases[0].config.storage.config.server[
        0].address
    assert worker_cli.zeo_servers(options) == ['%s:%d' % (host, port)]


def test_a_filestorage_has_no_zeo_server(tmp_path):
    config = str(tmp_path / 'zope.conf')
    instance.create_instance(config, SAMPLE, {})
    assert worker_cli.zeo_servers(worker_cli.read_config(config)) == []


# -- the parts of the worker, in this process ---------------------------------

def test_parse_args_defaults():
    args = worker_cli.parse_args([])
    assert (args.config, args.autostart, args.threads, args.stop_timeout) \
        == (os.path.join('var', 'zope.conf'), None, None, 60.0)


def test_settings_come_from_the_product_config():
    product = {'autostart': 'a@*, @b', 'threads': '3'}
    assert worker_cli.worker_settings(product) == (['a@*', '@b'], 3)


def test_settings_from_the_command_line_win():
    assert worker_cli.worker_settings({'autostart': 'a@*', 'threads': '3'},
                                  autostart='c@d', threads=2) == (['c@d'], 2)


def test_settings_default_to_one_thread():
    assert worker_cli.worker_settings({'autostart': 'a@*'}) == (['a@*'], 1)


@pytest.mark.parametrize('product, autostart, threads, message', [
    ({}, None, None, 'no task service to process'),
    ({'autostart': 'nonsense'}, None, None, "autostart directive 'nonsense'"),
    ({'autostart': 'a@*'}, None, 0, '--threads must be 1 or more'),
    ({'autostart': 'a@*', 'threads': 'x'}, None, None, "threads 'x'"),
])
def test_invalid_settings(product, autostart, threads, message):
    with pytest.raises(ValueError, match=message):
        worker_cli.worker_settings(product, autostart, threads)


def test_serve_only_keeps_the_other_keys():
    zope.app.appsetup.product.setProductConfiguration(
        'zodbtasks', {'autostart': 'a@*', 'threads': '2'})
    worker_cli.serve_only()
    assert zope.app.appsetup.product.getProductConfiguration('zodbtasks') \
        == {'autostart': '', 'threads': '2', 'processors': 'off'}
    assert startup.getAutostartServiceNames() == []
    assert not startup.processors_enabled()


def test_product_config_of_a_zope_conf(zeo_instance):
    options = worker_cli.read_config(zeo_instance)
    assert worker_cli.product_config(options) == {
        'autostart': '', 'processors': 'off', 'threads': '1'}
    assert worker_cli.product_config(options, 'other') == {}


def test_a_missing_zope_conf_exits_with_2(tmp_path, capsys):
    assert worker_cli.main(['--config', str(tmp_path / 'nosuch.conf')]) == 2
    assert capsys.readouterr().err.startswith(
        'zodbtasks-worker: cannot read %s: ' % (tmp_path / 'nosuch.conf'))


def test_no_service_to_process_exits_with_2(zeo_instance, capsys):
    assert worker_cli.main(['--config', zeo_instance]) == 2
    assert capsys.readouterr().err == (
        'zodbtasks-worker: no task service to process: give --autostart '
        'or set autostart in <product-config zodbtasks>\n')


def test_notify_opened_tries_again_after_a_conflict(monkeypatch):
    calls, sleeps = [], []

    def notify(event):
        calls.append(event)
        if len(calls) < 3:
            raise ConflictError('first starts conflict')
    monkeypatch.setattr(worker_cli, 'notify', notify)
    worker_cli.notify_opened('db', sleep=sleeps.append)
    assert [event.database for event in calls] == ['db'] * 3
    assert len(sleeps) == 2


def test_notify_opened_gives_up(monkeypatch):
    def notify(event):
        raise ConflictError('always')
    monkeypatch.setattr(worker_cli, 'notify', notify)
    with pytest.raises(ConflictError):
        worker_cli.notify_opened('db', attempts=2, sleep=lambda seconds: None)
