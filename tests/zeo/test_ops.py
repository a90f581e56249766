"""The operator's command ``zodbtasks`` on a ZEO database."""
import io
import os
import re
import subprocess
import sys

import pytest
import ZODB.FileStorage

from zodbtasks import clock
from zodbtasks.app import instance
from zodbtasks.app import ops
from zodbtasks.interfaces import CANCELLED
from zodbtasks.interfaces import COMPLETED
from zodbtasks.interfaces import QUEUED
from zodbtasks.dispatch import Dispatch

from .conftest import SAMPLE
from .conftest import free_port
from .conftest import make_zeo_instance
from .conftest import subprocess_environ

LIVE = 'host:101:aaaaaa/0'
DEAD = 'host:102:bbbbbb/0'


def run(config, *argv):
    """``(exit status, output lines)`` of ``zodbtasks ARGV --config``."""
    out = io.StringIO()
    status = ops.main(list(argv) + ['--config', config], out=out)
    return status, out.getvalue().splitlines()


def columns(line):
    return re.split(r'\s{2,}', line.strip())


@pytest.fixture
def jobs(zeo_service):
    """Jobs in every state the commands show: a live worker running one
    job, a dead worker's stuck job, two failed jobs, a queued one."""
    now = clock.now()
    service = zeo_service.service
    ids = zeo_service.add_jobs([('hold', 1.0, {}) for _ in range(6)])

    def claim(owner, at):
        [jobid] = Dispatch(service).claimJobs(at, 1, owner)
        return jobid

    with zeo_service.tm:
        running = claim(LIVE, now)
        stuck = claim(DEAD, now - 100.0)
        old_failure = claim(LIVE, now)
        Dispatch(service).finishJob(old_failure, now - 10.0, error='first failure')
        new_failure = claim(LIVE, now)
        Dispatch(service).finishJob(new_failure, now - 5.0,
                          error='second failure\nwith a second line')
        done = claim(LIVE, now)
        Dispatch(service).finishJob(done, now - 1.0, output='ok')
        Dispatch(service).foldJobs(LIVE)
    return {'running': running, 'stuck': stuck, 'old': old_failure,
            'new': new_failure, 'done': done, 'queued': ids[-1]}


def test_workers_lists_live_and_dead_workers_with_their_jobs(zeo_instance,
                                                             jobs):
    status, lines = run(zeo_instance, 'workers')
    assert status == 0
    assert columns(lines[0]) == ['SERVICE', 'WORKER', 'STATE',
                                 'LAST HEARTBEAT (UTC)', 'RUNNING']
    rows = {columns(line)[1]: columns(line) for line in lines[1:]}
    assert set(rows) == {LIVE, DEAD}
    assert rows[LIVE][0] == 'zeo@jobs'
    assert rows[LIVE][2] == 'alive'
    assert rows[LIVE][4] == str(jobs['running'])
    assert rows[DEAD][2] == 'dead'
    assert rows[DEAD][3].endswith('(100.0s ago)') \
        or rows[DEAD][3].endswith('(100.1s ago)')
    assert rows[DEAD][4] == str(jobs['stuck'])


def test_workers_says_when_there_is_none(zeo_instance, zeo_service):
    assert run(zeo_instance, 'workers') == (
        0, ['No worker has claimed jobs of *@*.'])


def test_stuck_lists_the_jobs_of_dead_workers(zeo_instance, jobs):
    status, lines = run(zeo_instance, 'stuck')
    assert status == 0
    assert columns(lines[0]) == ['SERVICE', 'JOB', 'TASK', 'WORKER (dead)',
                                 'ATTEMPTS', 'STARTED (UTC)']
    assert columns(lines[1])[:5] == ['zeo@jobs', str(jobs['stuck']), 'hold',
                                     DEAD, '1']
    assert lines[2].startswith('1 stuck job: ')
    assert len(lines) == 3


def test_failed_lists_errors_newest_first_with_their_first_line(
        zeo_instance, jobs):
    status, lines = run(zeo_instance, 'failed')
    assert status == 0
    assert columns(lines[0]) == ['SERVICE', 'JOB', 'TASK', 'FAILED (UTC)',
                                 'ATTEMPTS', 'ERROR']
    assert [columns(line)[1] for line in lines[1:]] == [
        str(jobs['new']), str(jobs['old'])]
    assert columns(lines[1])[-1] == 'second failure'
    assert columns(lines[2])[-1] == 'first failure'
    assert run(zeo_instance, 'failed', '--limit', '1')[1][1:] == lines[1:2]


def test_requeue_queues_failed_jobs_and_refuses_others(zeo_instance, jobs,
                                                       zeo_service):
    status, lines = run(zeo_instance, 'requeue', str(jobs['new']),
                        str(jobs['done']), '42')
    assert status == 1
    assert lines == [
        'requeued %s (zeo@jobs)' % jobs['new'],
        'not requeued %s (zeo@jobs): it is completed' % jobs['done'],
        '42: no such job',
    ]
    service = zeo_service.fresh()
    assert service.getStatus(jobs['new']) == QUEUED
    assert service.getError(jobs['new']) is None
    assert service.getStatus(jobs['done']) == COMPLETED
    assert run(zeo_instance, 'requeue', str(jobs['old'])) == (
        0, ['requeued %s (zeo@jobs)' % jobs['old']])


def test_reindex_says_when_the_indexes_agree(zeo_instance, jobs):
    status, lines = run(zeo_instance, 'reindex')
    assert status == 0
    assert lines == ['zeo@jobs: the indexes agree with the 6 jobs']


def test_reindex_reports_and_fixes_drift(zeo_instance, jobs, zeo_service):
    service = zeo_service.service
    with zeo_service.tm:  # what a lost fold write looked like
        service._index.by_status.remove(COMPLETED, jobs['done'])
    status, lines = run(zeo_instance, 'reindex')
    assert status == 1
    assert lines == [
        'zeo@jobs: 1 problems',
        '  job %d: missing from the completed set' % jobs['done'],
        'zeo@jobs: run again with --fix to rebuild the indexes',
    ]
    status, lines = run(zeo_instance, 'reindex', '--fix')
    assert status == 0
    assert lines[-1] == 'zeo@jobs: repaired 1 problems, 0 left'
    fresh = zeo_service.fresh()
    assert fresh.countByStatus()[COMPLETED] == 1
    assert fresh.checkIndex() == []


def test_cancel_cancels_waiting_jobs_and_asks_running_ones(
        zeo_instance, jobs, zeo_service):
    status, lines = run(zeo_instance, 'cancel', str(jobs['queued']),
                        str(jobs['running']), str(jobs['done']))
    assert status == 1
    assert lines == [
        'cancelled %s (zeo@jobs)' % jobs['queued'],
        'asked %s (zeo@jobs) to stop: it is running, and ends cancelled at '
        'its next checkpoint' % jobs['running'],
        'not cancelled %s (zeo@jobs): it is completed' % jobs['done'],
    ]
    service = zeo_service.fresh()
    assert service.getStatus(jobs['queued']) == CANCELLED
    assert service.countByStatus()[CANCELLED] == 1
    assert service._cancel_requests[jobs['running']] == 'system'


def test_watch_prints_counts_per_service_and_status(zeo_instance, jobs,
                                                    zeo_service):
    status, lines = run(zeo_instance, 'watch', '--interval', '0.05',
                        '--count', '2')
    assert status == 0
    assert sum(1 for line in lines if line.endswith(
        'UTC, every 0.05s (Ctrl-C to stop)')) == 2
    tables = [lines[i + 2:i + 4] for i, line in enumerate(lines)
              if line.endswith('(Ctrl-C to stop)')]
    header = columns(tables[0][0])
    assert header == ['SERVICE', 'QUEUED', 'PROCESSING', 'COMPLETED',
                      'ERROR', 'CANCELLED', 'DELAYED', 'CRONJOB',
                      'STARTLATER', 'BLOCKED', 'WORKERS', 'FINISHED/S']
    first = dict(zip(header, columns(tables[0][1])))
    assert first == {
        'SERVICE': 'zeo@jobs', 'QUEUED': '1', 'PROCESSING': '2',
        'COMPLETED': '1', 'ERROR': '2', 'CANCELLED': '0', 'DELAYED': '0',
        'CRONJOB': '0', 'STARTLATER': '0', 'BLOCKED': '0', 'WORKERS': '1/2',
        'FINISHED/S': '-'}
    second = dict(zip(header, columns(tables[1][1])))
    assert second['FINISHED/S'] == '0.0'


def test_service_selects_the_services(zeo_instance, jobs):
    assert run(zeo_instance, 'stuck', '--service', 'zeo@jobs')[0] == 0
    assert run(zeo_instance, 'stuck', '--service', '@*') == (
        2, [])  # the root folder has no task service


def test_an_unknown_service_is_an_error(zeo_instance, jobs, capsys):
    assert run(zeo_instance, 'stuck', '--service', 'nosuch@*') == (2, [])
    assert capsys.readouterr().err == (
        "zodbtasks: no site 'nosuch' below the root folder (or it is not a "
        "site)\n")


def test_config_and_service_may_come_before_the_command(zeo_instance, jobs):
    out = io.StringIO()
    assert ops.main(['--config', zeo_instance, '--service', 'zeo@*',
                     'stuck'], out=out) == 0
    assert columns(out.getvalue().splitlines()[1])[:2] == [
        'zeo@jobs', str(jobs['stuck'])]


@pytest.mark.parametrize('argv, config, service', [
    (['workers'], os.path.join('var', 'zope.conf'), '*@*'),
    (['--config', 'a.conf', 'workers'], 'a.conf', '*@*'),
    (['workers', '--config', 'a.conf'], 'a.conf', '*@*'),
    (['--service', 's@*', 'failed', '--limit', '3'],
     os.path.join('var', 'zope.conf'), 's@*'),
    (['--config', 'a.conf', '--service', 's@*', 'stuck', '--service',
      '@x', '--config', 'b.conf'], 'b.conf', '@x'),
])
def test_common_options_before_or_after_the_command(argv, config, service):
    args = ops.parse_args(argv)
    assert (args.command, args.config, args.service) == (
        argv[[a in ops.COMMANDS for a in argv].index(True)], config, service)


def test_every_command_of_the_table_parses():
    for name in ops.COMMANDS:
        extra = {'requeue': ['1'], 'cancel': ['1'], 'why': ['1'],
                 'limit': ['hold'], 'clean-group': ['1']}.get(name, [])
        assert ops.parse_args([name] + extra).command == name


def test_an_unreachable_zeo_server_is_named(tmp_path, capsys):
    port = free_port()
    config = make_zeo_instance(str(tmp_path), ('127.0.0.1', port),
                               wait_timeout=1)
    assert run(config, 'workers') == (2, [])
    assert capsys.readouterr().err == (
        'zodbtasks: cannot reach the ZEO server 127.0.0.1:%d named in %s '
        '(timed out waiting for connection): is it running, and is the '
        'address right?\n' % (port, config))


def test_a_locked_filestorage_is_explained(tmp_path, capsys):
    config = str(tmp_path / 'zope.conf')
    instance.create_instance(config, SAMPLE, {})
    storage = ZODB.FileStorage.FileStorage(str(tmp_path / 'Data.fs'))
    try:
        assert run(config, 'workers') == (2, [])
    finally:
        storage.close()
    err = capsys.readouterr().err
    assert err.startswith('zodbtasks: the FileStorage of %s is locked'
                          % config)
    assert 'only over ZEO (a <zeoclient> section' in err


def test_the_console_script_runs_as_a_module(zeo_instance, jobs):
    output = subprocess.run(
        [sys.executable, '-m', 'zodbtasks.app.ops', 'stuck',
         '--config', zeo_instance],
        cwd=os.path.dirname(zeo_instance), capture_output=True, text=True,
        timeout=60, env=subprocess_environ())
    assert output.returncode == 0, output.stderr
    assert str(jobs['stuck']) in output.stdout


def test_stuck_lists_running_jobs_over_their_time_limit(zeo_instance,
                                                        zeo_service):
    now = clock.now()
    jobid = zeo_service.add('hold', 1.0, timeLimit=5.0)
    with zeo_service.tm:
        Dispatch(zeo_service.service).claimJobs(now - 60.0, 1, LIVE)
        Dispatch(zeo_service.service).heartbeat(LIVE, now)
    status, lines = run(zeo_instance, 'stuck')
    assert status == 0
    assert columns(lines[0]) == ['SERVICE', 'JOB', 'TASK', 'WORKER',
                                 'STARTED (UTC)', 'TIME LIMIT']
    row = columns(lines[1])
    assert row[:4] == ['zeo@jobs', str(jobid), 'hold', LIVE]
    assert row[-1] == '5 s'
    assert lines[2].startswith('1 job over its time limit: a task that '
                               'never reaches a checkpoint')
    assert lines[3] == 'No stuck job in *@*.'
