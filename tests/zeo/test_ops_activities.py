"""The activity sub-commands of ``zodbtasks`` (why, pause, resume, limit,
activities) on a ZEO database."""
import io
import os
import subprocess
import sys

import pytest
from persistent.mapping import PersistentMapping

from zodbtasks import clock
from zodbtasks import startup
from zodbtasks import testing
from zodbtasks.app import ops
from zodbtasks.app import opsactivities
from zodbtasks.app.output import CLEAR
from zodbtasks.app.session import Session
from zodbtasks.app.session import parse_directive
from zodbtasks.dispatch import Dispatch
from zodbtasks.transactions import own_connection

from .conftest import SITE
from .conftest import subprocess_environ
from .test_ops import LIVE
from .test_ops import columns
from .test_ops import run


def run_err(config, capsys, *argv):
    """``(exit status, output lines, stderr)`` of ``zodbtasks ARGV``."""
    capsys.readouterr()
    status, lines = run(config, *argv)
    return status, lines, capsys.readouterr().err


def claim(zeo_service, owner=LIVE, limit=1, now=None):
    """The ids that ``owner`` claims now, committed."""
    with zeo_service.tm:
        return Dispatch(zeo_service.service).claimJobs(
            clock.now() if now is None else now, limit, owner)


@pytest.fixture
def chain(zeo_service):
    """Three hold jobs, each after the one before: ``first`` queued,
    ``second`` and ``third`` blocked."""
    first = zeo_service.add('hold', 1.0)
    second = zeo_service.add('hold', 1.0, after=(first,))
    third = zeo_service.add('hold', 1.0, after=(second,))
    return first, second, third


@pytest.fixture
def activity(zeo_service):
    """Jobs of two tasks in several states: ``running`` (hold, priority 0,
    claimed by LIVE), one hold job in error, one completed, two hold jobs
    queued at priority 5, a count job queued at -1 and a count job
    blocked after ``running``."""
    service, now = zeo_service.service, clock.now()
    running = zeo_service.add('hold', 1.0)
    assert claim(zeo_service) == [running]
    for error in ('failed', None):
        jobid = zeo_service.add('hold', 1.0)
        with zeo_service.tm:
            [claimed] = Dispatch(service).claimJobs(now, 1, LIVE)
            Dispatch(service).finishJob(claimed, now, output='ok',
                                        error=error)
            Dispatch(service).foldJobs(LIVE)
        assert claimed == jobid
    zeo_service.add_jobs([
        ('hold', 1.0, {'priority': 5}), ('hold', 1.0, {'priority': 5}),
        ('count', PersistentMapping(value=0), {'priority': -1}),
        ('count', PersistentMapping(value=0), {'after': (running,)})])
    return running


# -- why ---------------------------------------------------------------------

def test_why_prints_the_chain_behind_a_blocked_job(zeo_instance, chain):
    first, second, third = chain
    assert run(zeo_instance, 'why', str(third)) == (0, [
        'job %d (hold, blocked): waits for job %d (blocked)' % (third,
                                                               second),
        '  job %d (hold, blocked): waits for job %d (queued)' % (second,
                                                                 first),
        '    job %d (hold, queued): ready: it waits for a free processor'
        % first,
    ])


def test_why_says_when_a_job_does_not_wait(zeo_instance, zeo_service,
                                           activity):
    assert run(zeo_instance, 'why', str(activity)) == (
        0, ['job %d (hold, processing) does not wait' % activity])


def test_why_follows_the_chain_to_a_running_job(zeo_instance, zeo_service,
                                                activity):
    [jobid] = zeo_service.fresh().getDependents(activity)
    assert run(zeo_instance, 'why', str(jobid)) == (0, [
        'job %d (count, blocked): waits for job %d (processing)'
        % (jobid, activity),
        '  job %d (hold, processing) does not wait' % activity,
    ])


def test_why_an_unknown_job_is_an_error(zeo_instance, chain, capsys):
    assert run_err(zeo_instance, capsys, 'why', '42') == (
        2, [], 'zodbtasks: no job 42 in *@*\n')


# -- pause and resume ----------------------------------------------------------

def test_pause_and_resume_the_service(zeo_instance, zeo_service, chain):
    first = chain[0]
    assert run(zeo_instance, 'pause') == (0, ['paused zeo@jobs'])
    assert zeo_service.fresh().isPaused()
    assert claim(zeo_service) == []  # another connection claims nothing
    assert run(zeo_instance, 'why', str(first))[1] == [
        'job %d (hold, queued): the service is paused' % first]
    assert run(zeo_instance, 'pause') == (0, ['zeo@jobs: paused already'])
    assert run(zeo_instance, 'resume') == (0, ['resumed zeo@jobs'])
    assert not zeo_service.fresh().isPaused()
    assert claim(zeo_service) == [first]
    assert run(zeo_instance, 'resume') == (0, ['zeo@jobs: was not paused'])


def test_pause_and_resume_one_task(zeo_instance, zeo_service, chain):
    first = chain[0]
    assert run(zeo_instance, 'pause', 'hold') == (
        0, ["paused task 'hold' in zeo@jobs"])
    service = zeo_service.fresh()
    assert service.isPaused('hold') and not service.isPaused()
    assert service.pausedTasks() == ['hold']
    assert claim(zeo_service) == []
    assert run(zeo_instance, 'pause', 'hold') == (
        0, ["task 'hold' in zeo@jobs: paused already"])
    assert run(zeo_instance, 'why', str(first))[1] == [
        "job %d (hold, queued): task 'hold' is paused" % first]
    assert run(zeo_instance, 'resume', 'hold') == (
        0, ["resumed task 'hold' in zeo@jobs"])
    assert zeo_service.fresh().pausedTasks() == []
    assert claim(zeo_service) == [first]
    assert run(zeo_instance, 'resume', 'hold') == (
        0, ["task 'hold' in zeo@jobs: was not paused"])


def test_resuming_the_service_names_the_tasks_still_paused(zeo_instance,
                                                           chain):
    assert run(zeo_instance, 'pause', 'hold')[0] == 0
    assert run(zeo_instance, 'pause') == (0, ['paused zeo@jobs'])
    assert run(zeo_instance, 'resume') == (
        0, ['resumed zeo@jobs (tasks still paused: hold)'])


UNKNOWN = ("zodbtasks: no task %r in zeo@jobs: no job of it, and it is not "
           "paused or limited (this command knows the tasks by their "
           "jobs)\n")


@pytest.mark.parametrize('command', ['pause', 'resume'])
def test_an_unknown_task_is_an_error(zeo_instance, zeo_service, chain,
                                     capsys, command):
    assert run_err(zeo_instance, capsys, command, 'nosuch') == (
        2, [], UNKNOWN % 'nosuch')
    # 'count' is registered in this process, but has no job: the command
    # knows the tasks from the database, as in its own process.
    assert run_err(zeo_instance, capsys, command, 'count') == (
        2, [], UNKNOWN % 'count')
    assert zeo_service.fresh().pausedTasks() == []


def test_a_task_known_in_one_service_only(zeo_instance, zeo_service, chain):
    with zeo_service.tm:
        testing.add_service(zeo_service.connection.root()[startup.ROOT_NAME][SITE],
                            'other')
    assert run(zeo_instance, 'pause', 'hold') == (0, [
        "paused task 'hold' in zeo@jobs",
        "task 'hold' in zeo@other: no job of it, not paused"])
    assert run(zeo_instance, 'pause', 'hold', '--service', 'zeo@other')[0] \
        == 2


def test_pause_and_limit_in_the_commands_own_process(zeo_instance,
                                                     zeo_service, chain):
    """No task is registered in the command's process (no ZCML)."""
    for argv, expected in [
            (['pause', 'hold'], "paused task 'hold' in zeo@jobs\n"),
            (['limit', 'hold', '--max-running', '3'], 'zeo@jobs  hold')]:
        output = subprocess.run(
            [sys.executable, '-m', 'zodbtasks.app.ops'] + argv
            + ['--config', zeo_instance],
            cwd=os.path.dirname(zeo_instance), capture_output=True,
            text=True, timeout=60, env=subprocess_environ())
        assert output.returncode == 0, output.stderr
        assert expected in output.stdout
    service = zeo_service.fresh()
    assert service.pausedTasks() == ['hold']
    assert service.getTaskLimits()['hold']['maxRunning'] == 3


# -- limit -------------------------------------------------------------------

LIMIT_HEADER = ['SERVICE', 'TASK', 'MAX RUNNING', 'PER MINUTE', 'RUNNING',
                'STARTED LAST MINUTE', 'HELD']


def limits(config, *options):
    status, lines = run(config, 'limit', 'hold', *options)
    assert status == 0, lines
    assert columns(lines[0]) == LIMIT_HEADER
    return [columns(line) for line in lines[1:]]


def test_limit_sets_changes_and_removes_limits(zeo_instance, zeo_service,
                                               chain):
    assert limits(zeo_instance, '--max-running', '1') == [
        ['zeo@jobs', 'hold', '1', '-', '0', '0', '0']]
    assert zeo_service.fresh().getTaskLimits()['hold']['maxRunning'] == 1
    # an option not given keeps its limit
    assert limits(zeo_instance, '--per-minute', '10') == [
        ['zeo@jobs', 'hold', '1', '10', '0', '0', '0']]
    assert limits(zeo_instance, '--max-running', 'none') == [
        ['zeo@jobs', 'hold', '-', '10', '0', '0', '0']]
    assert run(zeo_instance, 'limit', 'hold', '--per-minute', 'NONE') == (
        0, ["zeo@jobs: task 'hold' has no limits"])
    assert zeo_service.fresh().getTaskLimits() == {}


def test_a_limit_holds_in_another_connection(zeo_instance, zeo_service):
    ids = zeo_service.add_jobs([('hold', 1.0, {})] * 3)
    assert limits(zeo_instance, '--max-running', '1')[0][2] == '1'
    assert claim(zeo_service, limit=3) == ids[:1]   # a claim ends there
    assert claim(zeo_service, limit=3) == []
    # the claims held the two others back (not failed, no attempt counted)
    assert limits(zeo_instance, '--max-running', '0') == [
        ['zeo@jobs', 'hold', '0', '-', '1', '0', '2']]
    assert claim(zeo_service, limit=3) == []
    assert limits(zeo_instance, '--max-running', '2') == [
        ['zeo@jobs', 'hold', '2', '-', '1', '0', '2']]
    assert claim(zeo_service, limit=3) == ids[1:2]
    assert zeo_service.fresh().getTaskLimits()['hold']['running'] == 2


@pytest.mark.parametrize('options, message', [
    ([], 'limit: give --max-running or --per-minute (a whole number >= 0, '
     'or none to remove that limit)'),
    (['--max-running', '-1'], "--max-running: expected a whole number >= 0, "
     "or none to remove the limit, not '-1'"),
    (['--max-running', 'two'], "--max-running: expected a whole number >= "
     "0, or none to remove the limit, not 'two'"),
    (['--per-minute', '1.5'], "--per-minute: expected a whole number >= 0, "
     "or none to remove the limit, not '1.5'"),
    (['--max-running', '2', '--per-minute', ''], "--per-minute: expected a "
     "whole number >= 0, or none to remove the limit, not ''"),
])
def test_limit_refuses_bad_values(zeo_instance, zeo_service, chain, capsys,
                                  options, message):
    assert run_err(zeo_instance, capsys, 'limit', 'hold', *options) == (
        2, [], 'zodbtasks: %s\n' % message)
    assert zeo_service.fresh().getTaskLimits() == {}


def test_limit_refuses_an_unknown_task(zeo_instance, zeo_service, chain,
                                       capsys):
    assert run_err(zeo_instance, capsys, 'limit', 'nosuch',
                   '--max-running', '1') == (2, [], UNKNOWN % 'nosuch')
    assert zeo_service.fresh().getTaskLimits() == {}


# -- activities ----------------------------------------------------------------

ACTIVITY_HEADER = ['SERVICE', 'TASK', 'STATUS', 'PRIORITY', 'WORKER',
                   'COUNT']


def test_activities_once_prints_the_counts(zeo_instance, activity):
    status, lines = run(zeo_instance, 'activities', '--once')
    assert status == 0
    assert lines[0].endswith(' UTC') and 'every' not in lines[0]
    assert lines[1:5] == ['', 'zeo@jobs: not paused; no task paused',
                          'no task limits', '']
    assert columns(lines[5]) == ACTIVITY_HEADER
    assert [columns(line) for line in lines[6:-1]] == [
        ['zeo@jobs', 'count', 'queued', '-1', '-', '1'],
        ['zeo@jobs', 'count', 'blocked', '0', '-', '1'],
        ['zeo@jobs', 'hold', 'queued', '5', '-', '2'],
        ['zeo@jobs', 'hold', 'processing', '0', LIVE, '1'],
        ['zeo@jobs', 'hold', 'error', '0', '-', '1'],
    ]
    assert lines[-1] == ''
    # numbers right-aligned, negative ones too
    priority = lines[5].index('PRIORITY') + len('PRIORITY')
    assert [line[priority - 2:priority] for line in lines[6:-1]] == [
        '-1', ' 0', ' 5', ' 0', ' 0']


def test_activities_shows_pauses_and_limits(zeo_instance, activity):
    assert run(zeo_instance, 'pause', 'hold')[0] == 0
    assert run(zeo_instance, 'pause')[0] == 0
    assert run(zeo_instance, 'limit', 'hold', '--max-running', '1',
               '--per-minute', '30')[0] == 0
    lines = run(zeo_instance, 'activities', '--once')[1]
    assert lines[2] == ('zeo@jobs: PAUSED (no job is claimed); paused '
                        'tasks: hold')
    assert columns(lines[3]) == ['TASK', 'MAX RUNNING', 'PER MINUTE',
                                 'RUNNING', 'STARTED LAST MINUTE', 'HELD']
    assert columns(lines[4]) == ['hold', '1', '30', '1', '0', '0']
    assert lines[5] == ''
    assert columns(lines[6]) == ACTIVITY_HEADER


def test_activities_of_a_service_with_completed_jobs_only(zeo_instance,
                                                          zeo_service):
    jobid = zeo_service.add('hold', 1.0)
    assert claim(zeo_service) == [jobid]
    with zeo_service.tm:
        Dispatch(zeo_service.service).finishJob(jobid, clock.now(), 'ok')
        Dispatch(zeo_service.service).foldJobs(LIVE)
    assert run(zeo_instance, 'activities', '--once')[1][2:] == [
        'zeo@jobs: not paused; no task paused', 'no task limits', '',
        'No job in zeo@jobs but completed ones.', '']


def test_activities_refreshes_like_watch(zeo_instance, activity):
    status, lines = run(zeo_instance, 'activities', '--interval', '0.05',
                        '--count', '2')
    assert status == 0
    headers = [i for i, line in enumerate(lines)
               if line.endswith(' UTC, every 0.05s (Ctrl-C to stop)')]
    assert len(headers) == 2
    assert lines[headers[0]+1:headers[1]] == lines[headers[1]+1:]


def test_activities_waits_its_interval_between_refreshes(zeo_db,
                                                         zeo_service):
    """Every 2 seconds by default; no wait after the last refresh; the
    terminal is cleared before each."""
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    sleeps, out = [], Terminal()
    with own_connection(zeo_db) as (connection, tm):
        session = Session(connection, tm, parse_directive('*@*'))
        args = ops.parse_args(['activities', '--count', '3'])
        assert opsactivities.activities(session, args, out,
                                        sleep=sleeps.append) == 0
        assert sleeps == [2.0, 2.0]
        assert out.getvalue().count(CLEAR) == 3
        sleeps[:] = []
        args = ops.parse_args(['activities', '--once', '--count', '3'])
        assert opsactivities.activities(session, args, io.StringIO(),
                                        sleep=sleeps.append) == 0
        assert sleeps == []

